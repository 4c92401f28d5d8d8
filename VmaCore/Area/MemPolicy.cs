using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// A NUMA memory policy (<c>struct mempolicy</c>): VMAs merge only with equal policies (<see cref="Equal"/> compares
/// contents). Null is the default policy. Policies are reference counted; a VMA split, copied (mremap) or forked
/// from another gets a copy of its own, as the kernel's <c>vma_dup_policy</c> gives it (<see cref="Dup"/>, an
/// allocation that can fail).
/// </summary>
internal unsafe struct MemPolicy
{
    /// <summary>The policy's mode.</summary>
    public int Mode;

    /// <summary>The node mask.</summary>
    public ulong Nodes;

    /// <summary>References held on the policy.</summary>
    public int RefCount;

    private static long s_live;

    /// <summary>How many policies are allocated and not yet freed (for leak checks).</summary>
    internal static long Live => Interlocked.Read(ref s_live);

    /// <summary>A new policy with one reference, owned by the caller.</summary>
    internal static MemPolicy* Create(int mode, ulong nodes)
    {
        var policy = (MemPolicy*)NativeMemory.AllocZeroed((nuint)sizeof(MemPolicy));
        policy->Mode = mode;
        policy->Nodes = nodes;
        policy->RefCount = 1;
        Interlocked.Increment(ref s_live);
        return policy;
    }

    /// <summary>
    /// <c>vma_dup_policy</c> (<c>mpol_dup</c>): <paramref name="copy"/> is a new policy equal to
    /// <paramref name="source"/>, with one reference owned by the caller, or null for the default policy, which
    /// needs no allocation. ENOMEM (and a null copy) when the allocation fails.
    /// </summary>
    internal static Errno Dup(MemPolicy* source, FaultInjection faults, out MemPolicy* copy)
    {
        copy = null;
        if (source == null)
        {
            return Errno.None;
        }

        if (faults.ShouldFail())
        {
            return Errno.ENOMEM;
        }

        copy = Create(source->Mode, source->Nodes);
        return Errno.None;
    }

    /// <summary><c>mpol_get</c>: takes a reference (null is the default policy and has none).</summary>
    internal static MemPolicy* Get(MemPolicy* policy)
    {
        if (policy != null)
        {
            Interlocked.Increment(ref policy->RefCount);
        }

        return policy;
    }

    /// <summary><c>mpol_put</c>: drops a reference, freeing the policy with the last.</summary>
    internal static void Put(MemPolicy* policy)
    {
        if (policy == null)
        {
            return;
        }

        int left = Interlocked.Decrement(ref policy->RefCount);
        Debug.Assert(left >= 0, "mempolicy refcount underflow");
        if (left == 0)
        {
            NativeMemory.Free(policy);
            Interlocked.Decrement(ref s_live);
        }
    }

    /// <summary><c>mpol_equal</c>: the same policy, or two with equal contents.</summary>
    internal static bool Equal(MemPolicy* a, MemPolicy* b)
    {
        if (a == b)
        {
            return true;
        }

        return a != null && b != null && a->Mode == b->Mode && a->Nodes == b->Nodes;
    }
}
