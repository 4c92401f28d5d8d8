using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// A thread's registration with an RCU flavour (liburcu's <c>struct urcu_reader</c>): one word,
/// <see cref="Counter"/>, that says whether the thread may hold references and since which grace period.
/// </summary>
/// <remarks>
/// <para>
/// Layout of the counter: the low <see cref="NestingBits"/> bits count nested read-side sections
/// (<see cref="Rcu"/>) or say "online" (<see cref="RcuQsbr"/>, where an online thread counts as one long section);
/// the high bits hold the grace-period number the thread last observed. The domain's global word has the same
/// layout with a nesting of 1, so entering an outermost section is one copy of it.
/// </para>
/// <para>
/// Protocol. Only the owner thread writes the counter, with a plain volatile store and no fence; a writer in
/// <see cref="RcuDomain.Synchronize"/> reads it after forcing a full barrier on every running thread
/// (<see cref="Interlocked.MemoryBarrierProcessWide"/>). A thread blocks a grace period while its nesting is
/// non-zero and its grace-period number is older than the one the writer waits for, unless it has died.
/// </para>
/// <para>
/// The counter lives in native memory, at an address that never moves, and the flavours keep that address in an
/// unmanaged thread-static field: the runtime places such a field at a fixed offset from the thread's static
/// block, so the read side reaches the counter with one load after the thread-local lookup, where a managed
/// record would need two (the field, then the object) and a reload of both after each volatile store. This object
/// owns the memory: the domain's registry keeps it reachable while it is registered and its owner lives (and a
/// writer's snapshot of the registry while the writer scans it), and the finalizer frees the counter once nothing
/// can reach it; by then the owner has died or unregistered, so no thread-static pointer uses the counter either.
/// </para>
/// </remarks>
internal sealed unsafe class RcuThreadRecord
{
    /// <summary>Bits of the counter that count nesting.</summary>
    public const int NestingBits = 16;

    /// <summary>Mask of the nesting bits.</summary>
    public const long NestingMask = (1L << NestingBits) - 1;

    /// <summary>The record of the calling thread, its counter zero (outside any section, offline).</summary>
    public RcuThreadRecord()
    {
        Owner = Thread.CurrentThread;
        Counter = PaddedCounter.Allocate();
    }

    /// <summary>Frees the counter: nothing can reach this record any more, so nothing reads the counter.</summary>
    ~RcuThreadRecord() => PaddedCounter.Free(Counter);

    /// <summary>The nesting count and grace-period snapshot, alone on its cache lines.</summary>
    public PaddedCounter* Counter { get; }

    /// <summary>The thread this record belongs to; a dead owner never blocks a grace period.</summary>
    public Thread Owner { get; }

    /// <summary>
    /// Whether <paramref name="counter"/> says its thread is inside a read-side section (or online); false for a null
    /// counter, that of a thread not registered with the flavour.
    /// </summary>
    public static bool IsInSection(PaddedCounter* counter) =>
        counter != null && (Volatile.Read(ref counter->Value) & NestingMask) != 0;

    /// <summary>
    /// Enters a read-side section: the outermost entry copies the domain's grace-period word
    /// (<paramref name="gracePeriodWord"/>, see <see cref="RcuDomain.GracePeriodWordAddress"/>) with nesting 1; a nested
    /// one adds one. This needs only a compiler barrier after the store (liburcu's <c>cmm_barrier</c>): RyuJIT never
    /// moves a memory access across a volatile one (the ECMA model alone promises only release order for the
    /// store). Store-load reordering by the hardware is the writer's business: its process-wide barrier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ReadLock(PaddedCounter* counter, long* gracePeriodWord)
    {
        long value = counter->Value;
        if ((value & NestingMask) == 0)
        {
            value = Volatile.Read(ref *gracePeriodWord);
        }
        else if ((value & NestingMask) == NestingMask)
        {
            ThrowNestingOverflow();
        }
        else
        {
            value++;
        }

        Volatile.Write(ref counter->Value, value);
    }

    /// <summary>Leaves a read-side section; the release store keeps the section's loads before it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ReadUnlock(PaddedCounter* counter)
    {
        long value = counter->Value;
        if ((value & NestingMask) == 0)
        {
            ThrowUnbalanced();
        }

        Volatile.Write(ref counter->Value, value - 1);
    }

    /// <summary>Whether this record holds up a grace period whose word is <paramref name="target"/>.</summary>
    public bool Blocks(long target)
    {
        long value = Volatile.Read(ref Counter->Value);
        return (value & NestingMask) != 0 && value < target;
    }

    [DoesNotReturn]
    private static void ThrowNestingOverflow() =>
        throw new InvalidOperationException($"RCU read-side sections are nested more than {NestingMask} deep.");

    /// <summary>Throws the error of a <see cref="Rcu.ReadUnlock"/> with no section to leave.</summary>
    [DoesNotReturn]
    public static void ThrowUnbalanced() =>
        throw new InvalidOperationException("Rcu.ReadUnlock without a matching Rcu.ReadLock on this thread.");
}
