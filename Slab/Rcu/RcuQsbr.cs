using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// User-space RCU, the quiescent-state-based flavour (liburcu's <c>urcu-qsbr</c>): for hosts whose threads pass
/// natural quiescent points, such as an emulator's vCPU loop between guest instructions. A registered thread is
/// "online" and may hold references at any time, with no read-side marking at all; it reports
/// <see cref="QuiescentState"/> at points where it holds none, and goes <see cref="Offline"/> around blocking
/// waits. A grace period ends when every online thread has reported a quiescent state or gone offline since it
/// began. A registered thread that exits without unregistering never blocks a grace period.
/// </summary>
/// <remarks>
/// Reporting a quiescent state is a load of the global grace-period word and a store to the thread's record, with
/// no fence: <see cref="Synchronize"/> uses the same process-wide barrier as <see cref="Rcu"/>, which also keeps
/// <see cref="Online"/> fence-free. The flavour has its own grace periods and callbacks, independent of
/// <see cref="Rcu"/>'s.
/// </remarks>
public static unsafe class RcuQsbr
{
    /// <summary>The grace periods and callbacks of this flavour.</summary>
    private static readonly RcuDomain s_domain = new("qsbr");

    /// <summary>The domain's grace-period word; a constant address to the JIT (see <see cref="RcuDomain.GracePeriodWordAddress"/>).</summary>
    private static readonly long* s_gracePeriodWord = s_domain.GracePeriodWordAddress;

    /// <summary>The calling thread's record while it is registered.</summary>
    [ThreadStatic]
    private static RcuThreadRecord? t_record;

    /// <summary>The current grace-period word (tests observe a grace period starting by its change).</summary>
    internal static long GracePeriodWord => s_domain.GracePeriodWord;

    /// <summary>Whether the calling thread is registered.</summary>
    public static bool IsRegistered => t_record is not null;

    /// <summary>Whether the calling thread is registered and online.</summary>
    public static bool IsOnline => RcuThreadRecord.IsInSection(RcuThreadCounters.Qsbr);

    /// <summary>Registers the calling thread as a reader, online (<c>rcu_register_thread</c>).</summary>
    /// <exception cref="InvalidOperationException">The thread is already registered.</exception>
    public static void Register()
    {
        if (t_record is not null)
        {
            throw new InvalidOperationException("RcuQsbr.Register: this thread is already registered.");
        }

        var record = new RcuThreadRecord();
        MarkOnline(record.Counter);
        s_domain.Register(record);
        t_record = record;
        RcuThreadCounters.Qsbr = record.Counter;
    }

    /// <summary>Unregisters the calling thread (<c>rcu_unregister_thread</c>); it must hold no references.</summary>
    public static void Unregister()
    {
        RcuThreadRecord record = t_record ?? throw NotRegistered(nameof(Unregister));
        MarkOffline(record.Counter);
        s_domain.Unregister(record);
        t_record = null;
        RcuThreadCounters.Qsbr = null;
    }

    /// <summary>
    /// Reports that the calling thread holds no reference obtained before this point (<c>rcu_quiescent_state</c>).
    /// If the thread is offline this also brings it online.
    /// </summary>
    public static void QuiescentState() => MarkOnline(Counter(nameof(QuiescentState)));

    /// <summary>Takes the calling thread offline, for example before it blocks (<c>rcu_thread_offline</c>).</summary>
    public static void Offline() => MarkOffline(Counter(nameof(Offline)));

    /// <summary>Brings the calling thread back online (<c>rcu_thread_online</c>).</summary>
    public static void Online() => MarkOnline(Counter(nameof(Online)));

    /// <summary>
    /// Waits for a grace period: until every thread that was online when this call began has reported a quiescent
    /// state, gone offline, unregistered or exited. A registered caller goes offline while it waits.
    /// </summary>
    public static void Synchronize() => WhileOffline(s_domain.Synchronize);

    /// <summary>Queues <paramref name="callback"/> to run after a grace period of this flavour, in queue order.</summary>
    public static void Call(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        s_domain.Callbacks.Enqueue(new RcuCallback(callback));
    }

    /// <summary>Waits until every callback queued before this call has run; a registered caller goes offline while it waits.</summary>
    public static void Barrier() => WhileOffline(s_domain.Callbacks.Barrier);

    private static void WhileOffline(Action wait)
    {
        PaddedCounter* counter = RcuThreadCounters.Qsbr;
        bool wasOnline = RcuThreadRecord.IsInSection(counter);
        if (wasOnline)
        {
            MarkOffline(counter);
        }

        try
        {
            wait();
        }
        finally
        {
            if (wasOnline)
            {
                MarkOnline(counter);
            }
        }
    }

    /// <summary>
    /// Copies the current grace-period word into <paramref name="counter"/>: its thread is online and has passed a
    /// quiescent state, so grace periods that began before this store no longer wait for it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MarkOnline(PaddedCounter* counter) =>
        Volatile.Write(ref counter->Value, Volatile.Read(ref *s_gracePeriodWord));

    /// <summary>Clears <paramref name="counter"/>: its thread is offline and no grace period waits for it.</summary>
    private static void MarkOffline(PaddedCounter* counter) => Volatile.Write(ref counter->Value, 0);

    /// <summary>The calling thread's counter; throws if the thread is not registered.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static PaddedCounter* Counter(string operation)
    {
        PaddedCounter* counter = RcuThreadCounters.Qsbr;
        if (counter == null)
        {
            throw NotRegistered(operation);
        }

        return counter;
    }

    private static InvalidOperationException NotRegistered(string operation) =>
        new($"RcuQsbr.{operation}: this thread is not registered; call RcuQsbr.Register first.");
}
