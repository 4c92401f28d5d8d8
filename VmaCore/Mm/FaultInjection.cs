using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// Makes an allocation of the engine fail on demand, to test that an operation that cannot allocate leaves the
/// mm exactly as it was. Every allocation point (tree preallocation, VMA, anon_vma) asks <see cref="ShouldFail"/>.
/// </summary>
internal sealed class FaultInjection
{
    private int _countdown = -1;

    /// <summary>
    /// Makes the allocation after <paramref name="successes"/> successful ones fail, once. A negative value
    /// disarms the injection.
    /// </summary>
    public void FailAfter(int successes) => Volatile.Write(ref _countdown, successes);

    /// <summary>How many allocation points were passed since the injection was last armed or counted.</summary>
    public int AllocationsSeen { get; private set; }

    /// <summary>Resets <see cref="AllocationsSeen"/>.</summary>
    public void ResetCount() => AllocationsSeen = 0;

    /// <summary>Called at each allocation point: whether this allocation must fail.</summary>
    internal bool ShouldFail()
    {
        AllocationsSeen++;
        int countdown = Volatile.Read(ref _countdown);
        if (countdown < 0)
        {
            return false;
        }

        Volatile.Write(ref _countdown, countdown - 1);
        return countdown == 0;
    }
}
