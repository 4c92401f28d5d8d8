using System;
using System.Collections.Generic;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// The callbacks of one RCU domain waiting for a grace period (<c>call_rcu</c>, <c>rcu_barrier</c>), run in the
/// order they were queued by one background thread, in batches: the thread takes everything queued so far, waits
/// for one grace period, runs the batch, and starts again.
/// </summary>
/// <remarks>
/// <para>
/// Protocol. <see cref="Enqueue"/> appends under <see cref="_queueLock"/> (no grace period on the caller's thread,
/// and callable inside a read-side section); it wakes the worker only when the worker sleeps. The worker, when
/// woken without a <see cref="Barrier"/> pending, lingers <see cref="BatchDelayMilliseconds"/> so that a burst of
/// calls shares one grace period (and one process-wide barrier, which interrupts every CPU). Callbacks are
/// numbered in queue order: <see cref="_queued"/> counts those queued, <see cref="_completed"/> those run;
/// <see cref="Barrier"/> waits until <see cref="_completed"/> reaches the <see cref="_queued"/> it saw.
/// </para>
/// <para>
/// A callback that throws does not stop the others: its exception is kept and thrown, in an
/// <see cref="AggregateException"/>, by the next <see cref="Barrier"/>.
/// </para>
/// </remarks>
internal sealed class RcuCallbackQueue
{
    /// <summary>How long the worker waits for more callbacks before starting a grace period.</summary>
    public const int BatchDelayMilliseconds = 1;

    /// <summary>At most this many callback exceptions are kept for <see cref="Barrier"/>.</summary>
    private const int MaxKeptFailures = 64;

    /// <summary>The domain whose grace periods the callbacks wait for.</summary>
    private readonly RcuDomain _domain;

    /// <summary>Name of the worker thread.</summary>
    private readonly string _name;

    /// <summary>Guards <see cref="_pending"/>, <see cref="_queued"/>, <see cref="_workerSleeps"/>, <see cref="_workerIdle"/>, <see cref="_expedite"/>, <see cref="_worker"/>; the worker sleeps on it.</summary>
    private readonly object _queueLock = new();

    /// <summary>Guards <see cref="_completed"/> and <see cref="_failures"/>; <see cref="Barrier"/> callers sleep on it.</summary>
    private readonly object _doneLock = new();

    /// <summary>Callbacks queued and not yet taken by the worker.</summary>
    private List<RcuCallback> _pending = new();

    /// <summary>The worker's batch list, swapped with <see cref="_pending"/>.</summary>
    private List<RcuCallback> _batch = new();

    /// <summary>Callbacks ever queued.</summary>
    private long _queued;

    /// <summary>Callbacks ever run (or failed).</summary>
    private long _completed;

    /// <summary>Exceptions thrown by callbacks since the last <see cref="Barrier"/>.</summary>
    private readonly List<Exception> _failures = new();

    /// <summary>Whether the worker waits on <see cref="_queueLock"/>, for work or while a batch lingers.</summary>
    private bool _workerSleeps;

    /// <summary>
    /// Whether the worker waits because the queue is empty. Only then does <see cref="Enqueue"/> wake it: waking it
    /// while a batch lingers would end the batch after one callback and pay a grace period for each.
    /// </summary>
    private bool _workerIdle;

    /// <summary>Whether a <see cref="Barrier"/> waits, so the worker must not linger.</summary>
    private bool _expedite;

    /// <summary>The worker thread, started by the first <see cref="Enqueue"/>.</summary>
    private Thread? _worker;

    /// <summary>Creates the queue of <paramref name="domain"/>.</summary>
    public RcuCallbackQueue(RcuDomain domain, string name)
    {
        _domain = domain;
        _name = name;
    }

    /// <summary>Callbacks ever queued, for <see cref="RcuMetrics"/>.</summary>
    public long Queued => Volatile.Read(ref _queued);

    /// <summary>Callbacks queued and not yet run (or failed): the backlog, for <see cref="RcuMetrics"/>.</summary>
    public long Backlog => Math.Max(0, Volatile.Read(ref _queued) - Volatile.Read(ref _completed));

    /// <summary>Whether the calling thread is this queue's worker (running a callback).</summary>
    public bool IsWorkerThread => IsWorker(Thread.CurrentThread);

    /// <summary>Whether <paramref name="thread"/> is this queue's worker.</summary>
    public bool IsWorker(Thread thread) => thread == Volatile.Read(ref _worker);

    /// <summary>Queues <paramref name="callback"/> to run after a grace period that begins after this call.</summary>
    public void Enqueue(RcuCallback callback)
    {
        lock (_queueLock)
        {
            _pending.Add(callback);
            _queued++;
            if (_worker is null)
            {
                StartWorker();
            }
            else if (_workerIdle)
            {
                Monitor.Pulse(_queueLock);
            }
        }
    }

    /// <summary>
    /// Waits until every callback queued before this call has run (<c>rcu_barrier</c>), then throws the exceptions
    /// callbacks threw since the last barrier, if any.
    /// </summary>
    public void Barrier()
    {
        if (IsWorkerThread)
        {
            throw new InvalidOperationException("An RCU Barrier inside an RCU callback would wait for itself forever.");
        }

        long target;
        lock (_queueLock)
        {
            target = _queued;
            _expedite = true;
            if (_workerSleeps)
            {
                Monitor.Pulse(_queueLock);
            }
        }

        Exception[] failures;
        lock (_doneLock)
        {
            while (_completed < target)
            {
                Monitor.Wait(_doneLock);
            }

            failures = _failures.ToArray();
            _failures.Clear();
        }

        if (failures.Length != 0)
        {
            throw new AggregateException("One or more RCU callbacks threw.", failures);
        }
    }

    private void StartWorker()
    {
        _worker = new Thread(Work) { IsBackground = true, Name = $"RCU callbacks ({_name})" };
        _worker.Start();
    }

    private void Work()
    {
        while (true)
        {
            long batchEnd = TakeBatch();
            _domain.Synchronize();
            foreach (RcuCallback callback in _batch)
            {
                RunOne(callback);
            }

            _batch.Clear();
            lock (_doneLock)
            {
                _completed = batchEnd;
                Monitor.PulseAll(_doneLock);
            }
        }
    }

    /// <summary>Sleeps until callbacks are queued, lingers for more unless a barrier waits, and takes them all.</summary>
    private long TakeBatch()
    {
        lock (_queueLock)
        {
            while (_pending.Count == 0)
            {
                _workerIdle = true;
                Sleep(Timeout.Infinite);
                _workerIdle = false;
            }

            if (!_expedite)
            {
                Sleep(BatchDelayMilliseconds);
            }

            _expedite = false;
            (_pending, _batch) = (_batch, _pending);
            return _queued;
        }
    }

    /// <summary>Waits on <see cref="_queueLock"/> (held) for a pulse or the timeout.</summary>
    private void Sleep(int milliseconds)
    {
        _workerSleeps = true;
        Monitor.Wait(_queueLock, milliseconds);
        _workerSleeps = false;
    }

    private void RunOne(RcuCallback callback)
    {
        try
        {
            callback.Invoke();
        }
        catch (Exception e)
        {
            lock (_doneLock)
            {
                if (_failures.Count < MaxKeptFailures)
                {
                    _failures.Add(e);
                }
            }
        }
    }
}
