using System;
using System.Threading;
using System.Threading.Tasks;
using VmaEngine.Slab;

namespace Tests.Slab;

/// <summary>Starting a grace period on another thread and knowing that it has begun.</summary>
internal static class GracePeriods
{
    /// <summary>
    /// Runs <paramref name="wait"/> (a <c>Synchronize</c> or a <c>Barrier</c>) on a pool thread and returns once the
    /// flavour's grace-period word (<paramref name="gracePeriodWord"/>) has changed, that is once its grace period has
    /// begun: a reader that enters a section after this is not waited for.
    /// </summary>
    public static Task Begin(Func<long> gracePeriodWord, Action wait)
    {
        long before = gracePeriodWord();
        Task waiting = Task.Run(wait);
        SpinWait.SpinUntil(() => gracePeriodWord() != before);
        return waiting;
    }

    /// <summary><see cref="Begin"/> for <see cref="Rcu.Synchronize"/>.</summary>
    public static Task BeginRcuSynchronize() => Begin(() => Rcu.GracePeriodWord, Rcu.Synchronize);
}
