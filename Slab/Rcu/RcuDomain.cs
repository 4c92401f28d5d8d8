using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// The grace-period machinery shared by the two RCU flavours: a global grace-period word, the registry of
/// reader threads, <see cref="Synchronize"/> and the queue of callbacks waiting for a grace period.
/// </summary>
/// <remarks>
/// <para>
/// Source: liburcu's <c>urcu-memb</c> flavour (Desnoyers et al., "User-Level Implementations of Read-Copy Update",
/// IEEE TPDS 2012), with a 64-bit grace-period number instead of liburcu's one-bit phase, so one counter update
/// per grace period suffices: a reader that stored a stale number is only waited for longer, never missed. The
/// code is this project's own.
/// </para>
/// <para>
/// Protocol. Readers store their <see cref="RcuThreadRecord.Counter"/> with no fence. <see cref="Synchronize"/>,
/// serialised by <see cref="_writerLock"/>: (1) advances <see cref="_gracePeriod"/> with a full fence, so every
/// update the caller made before is visible first; (2) calls <see cref="Interlocked.MemoryBarrierProcessWide"/>,
/// which makes every running thread execute a full barrier: after it, a reader's section either shows in its
/// record, or started late enough to see the caller's updates; (3) waits for every record that
/// <see cref="RcuThreadRecord.Blocks"/> the new number, skipping records whose thread has died. The readers'
/// release stores when leaving a section and the acquire loads here order their reads before the caller's
/// reclamation.
/// </para>
/// <para>The registry is a copy-on-write array: registration takes <see cref="_registryLock"/>, readers of the array none.</para>
/// </remarks>
internal sealed unsafe class RcuDomain
{
    /// <summary>
    /// The grace-period word: the grace-period number above <see cref="RcuThreadRecord.NestingBits"/>, nesting 1
    /// below. Written only under <see cref="_writerLock"/>; read by every reader entering a section. It lives in
    /// native memory, alone on its cache lines, at an address fixed for the life of the process (a domain is a
    /// static of its flavour and never destroyed), so that a flavour can keep the address in a static readonly field
    /// (<see cref="GracePeriodWordAddress"/>): the JIT folds it into the load, and a reader entering a section reads
    /// the word with one load instead of two dependent loads through the flavour's domain object.
    /// </summary>
    private readonly PaddedCounter* _gracePeriod;

    /// <summary>The grace-period word before the first grace period: number 1, nesting 1.</summary>
    private const long FirstGracePeriodWord = (1L << RcuThreadRecord.NestingBits) | 1;

    /// <summary>Serialises writers: one grace period at a time.</summary>
    private readonly Lock _writerLock = new();

    /// <summary>Guards replacements of <see cref="_records"/>.</summary>
    private readonly Lock _registryLock = new();

    /// <summary>Every registered reader thread; replaced, never changed in place.</summary>
    private RcuThreadRecord[] _records = [];

    /// <summary>Creates a domain named <paramref name="name"/> (for its callback thread).</summary>
    public RcuDomain(string name)
    {
        _gracePeriod = PaddedCounter.Allocate();
        _gracePeriod->Value = FirstGracePeriodWord;
        Name = name;
        Callbacks = new RcuCallbackQueue(this, name);
        RcuMetrics.Register(this);
    }

    /// <summary>The flavour's name (<c>memb</c>, <c>qsbr</c>).</summary>
    public string Name { get; }

    /// <summary>Grace periods started since the process began (<see cref="Synchronize"/> calls that advanced the word).</summary>
    public long GracePeriods => (GracePeriodWord - FirstGracePeriodWord) >> RcuThreadRecord.NestingBits;

    /// <summary>The callbacks waiting for a grace period of this domain.</summary>
    public RcuCallbackQueue Callbacks { get; }

    /// <summary>The current grace-period word, as a reader entering a section copies it.</summary>
    public long GracePeriodWord => Volatile.Read(ref _gracePeriod->Value);

    /// <summary>The address of the grace-period word, valid for the life of the process; readers load it volatile.</summary>
    public long* GracePeriodWordAddress => &_gracePeriod->Value;

    /// <summary>Adds a record; also forgets records of threads that have died.</summary>
    public void Register(RcuThreadRecord record)
    {
        lock (_registryLock)
        {
            var next = new List<RcuThreadRecord>(_records.Length + 1);
            foreach (RcuThreadRecord r in _records)
            {
                if (r.Owner.IsAlive)
                {
                    next.Add(r);
                }
            }

            next.Add(record);
            Interlocked.Exchange(ref _records, next.ToArray());
        }
    }

    /// <summary>Removes a record.</summary>
    public void Unregister(RcuThreadRecord record)
    {
        lock (_registryLock)
        {
            Interlocked.Exchange(ref _records, Array.FindAll(_records, r => r != record));
        }
    }

    /// <summary>
    /// Waits until every reader that was inside a read-side section (or online, for QSBR) when this call began has
    /// left it (<c>synchronize_rcu</c>). The caller must not be inside a section itself.
    /// </summary>
    public void Synchronize()
    {
        bool sawDead = false;
        lock (_writerLock)
        {
            long target = _gracePeriod->Value + (1L << RcuThreadRecord.NestingBits);
            Interlocked.Exchange(ref _gracePeriod->Value, target);
            Interlocked.MemoryBarrierProcessWide();
            foreach (RcuThreadRecord record in Volatile.Read(ref _records))
            {
                sawDead |= !WaitFor(record, target);
            }
        }

        if (sawDead)
        {
            ForgetDeadThreads();
        }
    }

    /// <summary>Waits until <paramref name="record"/> no longer blocks <paramref name="target"/>; false if its thread died.</summary>
    private static bool WaitFor(RcuThreadRecord record, long target)
    {
        var spinner = new SpinWait();
        while (record.Blocks(target))
        {
            if (spinner.NextSpinWillYield && !record.Owner.IsAlive)
            {
                return false;
            }

            spinner.SpinOnce();
        }

        return true;
    }

    private void ForgetDeadThreads()
    {
        lock (_registryLock)
        {
            RcuThreadRecord[] alive = Array.FindAll(_records, r => r.Owner.IsAlive);
            Debug.Assert(alive.Length <= _records.Length, "pruning never adds records");
            Interlocked.Exchange(ref _records, alive);
        }
    }
}
