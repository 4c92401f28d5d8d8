using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace Slab;

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
    public static bool IsOnline => t_record?.IsActive ?? false;

    /// <summary>Registers the calling thread as a reader, online (<c>rcu_register_thread</c>).</summary>
    /// <exception cref="InvalidOperationException">The thread is already registered.</exception>
    public static void Register()
    {
        if (t_record is not null)
        {
            throw new InvalidOperationException("RcuQsbr.Register: this thread is already registered.");
        }

        var record = new RcuThreadRecord();
        MarkOnline(record);
        s_domain.Register(record);
        t_record = record;
    }

    /// <summary>Unregisters the calling thread (<c>rcu_unregister_thread</c>); it must hold no references.</summary>
    public static void Unregister()
    {
        RcuThreadRecord record = Record(nameof(Unregister));
        MarkOffline(record);
        s_domain.Unregister(record);
        t_record = null;
    }

    /// <summary>
    /// Reports that the calling thread holds no reference obtained before this point (<c>rcu_quiescent_state</c>).
    /// If the thread is offline this also brings it online.
    /// </summary>
    public static void QuiescentState()
    {
        RcuThreadRecord record = Record(nameof(QuiescentState));
        MarkOnline(record);
    }

    /// <summary>Takes the calling thread offline, for example before it blocks (<c>rcu_thread_offline</c>).</summary>
    public static void Offline()
    {
        RcuThreadRecord record = Record(nameof(Offline));
        MarkOffline(record);
    }

    /// <summary>Brings the calling thread back online (<c>rcu_thread_online</c>).</summary>
    public static void Online()
    {
        RcuThreadRecord record = Record(nameof(Online));
        MarkOnline(record);
    }

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
        RcuThreadRecord? record = t_record;
        bool wasOnline = record?.IsActive ?? false;
        if (wasOnline)
        {
            MarkOffline(record!);
        }

        try
        {
            wait();
        }
        finally
        {
            if (wasOnline)
            {
                MarkOnline(record!);
            }
        }
    }

    /// <summary>
    /// Copies the current grace-period word into <paramref name="record"/>: its thread is online and has passed a
    /// quiescent state, so grace periods that began before this store no longer wait for it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MarkOnline(RcuThreadRecord record) =>
        Volatile.Write(ref record.Counter.Value, Volatile.Read(ref *s_gracePeriodWord));

    /// <summary>Clears <paramref name="record"/>'s counter: its thread is offline and no grace period waits for it.</summary>
    private static void MarkOffline(RcuThreadRecord record) => Volatile.Write(ref record.Counter.Value, 0);

    private static RcuThreadRecord Record(string operation) =>
        t_record ?? throw new InvalidOperationException($"RcuQsbr.{operation}: this thread is not registered; call RcuQsbr.Register first.");
}
