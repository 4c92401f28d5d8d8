using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// A name set with PR_SET_VMA_ANON_NAME (<c>struct anon_vma_name</c>): refcounted and shared between VMAs split
/// from one another. The name is an interned identifier resolved by the address space.
/// </summary>
internal unsafe struct AnonVmaName
{
    /// <summary>References held on the name (<c>kref</c>).</summary>
    public int RefCount;

    /// <summary>The interned name's identifier.</summary>
    public int NameId;

    /// <summary><c>anon_vma_name_alloc</c>: a new name with one reference, owned by the caller.</summary>
    internal static AnonVmaName* Create(int nameId)
    {
        var name = (AnonVmaName*)NativeMemory.AllocZeroed((nuint)sizeof(AnonVmaName));
        name->NameId = nameId;
        name->RefCount = 1;
        return name;
    }

    /// <summary><c>anon_vma_name_get</c>: takes a reference (null has none).</summary>
    internal static AnonVmaName* Get(AnonVmaName* name)
    {
        if (name != null)
        {
            Interlocked.Increment(ref name->RefCount);
        }

        return name;
    }

    /// <summary><c>anon_vma_name_put</c>: drops a reference, freeing the name with the last.</summary>
    internal static void Put(AnonVmaName* name)
    {
        if (name == null)
        {
            return;
        }

        int left = Interlocked.Decrement(ref name->RefCount);
        Debug.Assert(left >= 0, "anon_vma_name refcount underflow");
        if (left == 0)
        {
            NativeMemory.Free(name);
        }
    }

    /// <summary><c>anon_vma_name_eq</c>: the same name object, or two names with the same text.</summary>
    internal static bool Equal(AnonVmaName* a, AnonVmaName* b) => a == b || (a != null && b != null && a->NameId == b->NameId);
}
