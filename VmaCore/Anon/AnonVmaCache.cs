using VmaEngine.Slab;

namespace VmaEngine.Vma;

/// <summary>
/// The slab caches of the anon_vma model (<c>anon_vma_cachep</c>, SLAB_TYPESAFE_BY_RCU as in the kernel, and
/// <c>anon_vma_chain_cachep</c>). Every allocation is an allocation point of <see cref="FaultInjection"/>.
/// </summary>
internal static unsafe class AnonVmaCache
{
    private static readonly SlabCache<AnonVma> s_anonVmas = new("anon_vma", new SlabCacheOptions
    {
        Flags = SlabFlags.TypesafeByRcu | SlabDebugSwitch.Flags,
    });

    private static readonly SlabCache<AnonVmaChain> s_chains = new("anon_vma_chain", new SlabCacheOptions
    {
        Flags = SlabDebugSwitch.Flags,
    });

    /// <summary>The anon_vma cache, for statistics.</summary>
    public static SlabCache<AnonVma> AnonVmas => s_anonVmas;

    /// <summary>The anon_vma_chain cache, for statistics.</summary>
    public static SlabCache<AnonVmaChain> Chains => s_chains;

    /// <summary>
    /// Chain links allocated since the process started; exact while no other thread allocates (for tests that
    /// check that a path cloned links, as the kernel's harness does with <c>was_cloned</c>).
    /// </summary>
    public static long ChainsAllocated { get; private set; }

    /// <summary>Chain links freed since the process started; exact while no other thread frees (<c>was_unlinked</c>).</summary>
    public static long ChainsFreed { get; private set; }

    /// <summary>
    /// <c>anon_vma_alloc</c>: a new root anon_vma with one reference and no children yet, or null when memory is
    /// short or a failure is injected.
    /// </summary>
    public static AnonVma* AllocAnonVma(FaultInjection faults)
    {
        AnonVma* anonVma = faults.ShouldFail() ? null : s_anonVmas.TryAlloc();
        if (anonVma != null)
        {
            *anonVma = default;
            anonVma->Root = anonVma;
            anonVma->Parent = anonVma;
            anonVma->RefCount = 1;
        }

        return anonVma;
    }

    /// <summary><c>anon_vma_free</c>: returns an anon_vma whose last reference was dropped.</summary>
    public static void FreeAnonVma(AnonVma* anonVma) => s_anonVmas.Free(anonVma);

    /// <summary><c>anon_vma_chain_alloc</c>: a chain link, or null when memory is short or a failure is injected.</summary>
    public static AnonVmaChain* AllocChain(FaultInjection faults)
    {
        AnonVmaChain* avc = faults.ShouldFail() ? null : s_chains.TryAlloc();
        if (avc != null)
        {
            *avc = default;
            ChainsAllocated++;
        }

        return avc;
    }

    /// <summary><c>anon_vma_chain_free</c>.</summary>
    public static void FreeChain(AnonVmaChain* avc)
    {
        ChainsFreed++;
        s_chains.Free(avc);
    }
}
