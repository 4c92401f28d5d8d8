using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// A NUMA memory policy (<c>struct mempolicy</c>): VMAs merge only with equal policies. Null is the default policy.
/// Policies are reference counted and shared between the VMAs split or copied from one another.
/// </summary>
/// <remarks>The kernel's <c>vma_dup_policy</c> copies the policy; here the copy shares it and takes a reference, which
/// compares the same (<see cref="Equal"/> compares contents) and cannot fail.</remarks>
internal unsafe struct MemPolicy
{
    /// <summary>The policy's mode.</summary>
    public int Mode;

    /// <summary>The node mask.</summary>
    public ulong Nodes;

    /// <summary>References held on the policy.</summary>
    public int RefCount;

    /// <summary>A new policy with one reference, owned by the caller.</summary>
    internal static MemPolicy* Create(int mode, ulong nodes)
    {
        var policy = (MemPolicy*)NativeMemory.AllocZeroed((nuint)sizeof(MemPolicy));
        policy->Mode = mode;
        policy->Nodes = nodes;
        policy->RefCount = 1;
        return policy;
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
