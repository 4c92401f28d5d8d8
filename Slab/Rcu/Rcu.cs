using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// User-space read-copy-update, the memory-barrier flavour (liburcu's <c>urcu-memb</c>): readers pay a
/// thread-local store per section, with no fence and no shared write; writers pay with a process-wide memory
/// barrier (<c>membarrier</c>) per grace period. Any thread may read; a thread registers itself on its first
/// <see cref="ReadLock"/>, and a thread that exits, even inside a section, never blocks a grace period.
/// </summary>
/// <remarks>
/// Read-side sections nest. A reader must not block for long inside a section (it delays every grace period)
/// and must not call <see cref="Synchronize"/> or <see cref="Barrier"/> there (it would wait for itself: an
/// <see cref="InvalidOperationException"/> says so). See <see cref="RcuDomain"/> for the protocol and
/// <see cref="RcuQsbr"/> for the flavour whose read side is free.
/// </remarks>
public static unsafe class Rcu
{
    /// <summary>The grace periods and callbacks of this flavour.</summary>
    private static readonly RcuDomain s_domain = new("memb");

    /// <summary>The domain's grace-period word; a constant address to the JIT (see <see cref="RcuDomain.GracePeriodWordAddress"/>).</summary>
    private static readonly long* s_gracePeriodWord = s_domain.GracePeriodWordAddress;

    /// <summary>Enters a read-side section (<c>rcu_read_lock</c>); sections nest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ReadLock() => RcuThreadRecord.ReadLock(CounterOrRegister(), s_gracePeriodWord);

    /// <summary>Leaves a read-side section (<c>rcu_read_unlock</c>).</summary>
    /// <exception cref="InvalidOperationException">The thread is not inside a section.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ReadUnlock()
    {
        PaddedCounter* counter = RcuThreadCounters.Memb;
        if (counter == null)
        {
            RcuThreadRecord.ThrowUnbalanced();
        }

        RcuThreadRecord.ReadUnlock(counter);
    }

    /// <summary>Enters a read-side section that the returned scope leaves when disposed (<c>using (Rcu.Read()) { ... }</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RcuReadScope Read()
    {
        PaddedCounter* counter = CounterOrRegister();
        RcuThreadRecord.ReadLock(counter, s_gracePeriodWord);
        return new RcuReadScope(counter);
    }

    /// <summary>The calling thread's counter, null if it never entered a section (a scope checks it is left on its own thread).</summary>
    internal static PaddedCounter* CurrentThreadCounter => RcuThreadCounters.Memb;

    /// <summary>The current grace-period word (tests observe a grace period starting by its change).</summary>
    internal static long GracePeriodWord => s_domain.GracePeriodWord;

    /// <summary>Whether the calling thread is inside a read-side section.</summary>
    public static bool IsInReadSection => RcuThreadRecord.IsInSection(RcuThreadCounters.Memb);

    /// <summary>
    /// Waits for a grace period (<c>synchronize_rcu</c>): until every read-side section that began before this call
    /// has ended. Sections that begin later are not waited for.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called inside a read-side section.</exception>
    public static void Synchronize()
    {
        ThrowIfInReadSection(nameof(Synchronize));
        s_domain.Synchronize();
    }

    /// <summary>
    /// Queues <paramref name="callback"/> to run on the RCU callback thread after a grace period that begins after
    /// this call (<c>call_rcu</c>). Callbacks run in the order they were queued. Cheap, callable from any thread
    /// and inside a read-side section.
    /// </summary>
    public static void Call(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        s_domain.Callbacks.Enqueue(new RcuCallback(callback));
    }

    /// <summary>
    /// Like <see cref="Call(Action)"/>, for a callback object and an argument: queueing allocates nothing.
    /// </summary>
    public static void Call(IRcuCallback callback, nint argument)
    {
        ArgumentNullException.ThrowIfNull(callback);
        s_domain.Callbacks.Enqueue(new RcuCallback(callback, argument));
    }

    /// <summary>
    /// Waits until every callback queued before this call has run (<c>rcu_barrier</c>). Throws an
    /// <see cref="AggregateException"/> with the exceptions callbacks threw since the last barrier, if any.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called inside a read-side section or inside a callback.</exception>
    public static void Barrier()
    {
        ThrowIfInReadSection(nameof(Barrier));
        s_domain.Callbacks.Barrier();
    }

    /// <summary>Whether <paramref name="thread"/> is the thread that runs the callbacks.</summary>
    internal static bool IsCallbackThread(Thread thread) => s_domain.Callbacks.IsWorker(thread);

    /// <summary>Whether the calling thread may wait for callbacks (<see cref="Barrier"/>): outside read-side sections and callbacks.</summary>
    internal static bool MayWaitForCallbacks => !IsInReadSection && !s_domain.Callbacks.IsWorkerThread;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static PaddedCounter* CounterOrRegister()
    {
        PaddedCounter* counter = RcuThreadCounters.Memb;
        return counter != null ? counter : RegisterCurrentThread();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PaddedCounter* RegisterCurrentThread()
    {
        // The domain's registry keeps the record, and so the counter, alive until the thread has died.
        var record = new RcuThreadRecord();
        s_domain.Register(record);
        RcuThreadCounters.Memb = record.Counter;
        return record.Counter;
    }

    private static void ThrowIfInReadSection(string operation)
    {
        if (IsInReadSection)
        {
            throw new InvalidOperationException($"Rcu.{operation} called inside an RCU read-side section would wait for that section, that is for itself, forever.");
        }
    }
}
