using System.Diagnostics;

namespace VmaEngine.Slab;

/// <summary>
/// A doubly linked list of slabs through <see cref="SlabHeader.Next"/> and <see cref="SlabHeader.Prev"/> (the
/// kernel's <c>slab_list</c>). A mutable struct kept in a field of its cache and used only through that field,
/// under the cache's slab lock.
/// </summary>
internal unsafe struct SlabList
{
    /// <summary>The first slab, or null.</summary>
    public SlabHeader* Head;

    /// <summary>The last slab, or null.</summary>
    public SlabHeader* Tail;

    /// <summary>Slabs on the list.</summary>
    public int Count;

    /// <summary>Puts <paramref name="slab"/> first.</summary>
    public void AddHead(SlabHeader* slab)
    {
        Debug.Assert(slab->Next == null && slab->Prev == null, "the slab is already on a list");
        slab->Next = Head;
        if (Head != null)
        {
            Head->Prev = slab;
        }
        else
        {
            Tail = slab;
        }

        Head = slab;
        Count++;
    }

    /// <summary>Puts <paramref name="slab"/> last.</summary>
    public void AddTail(SlabHeader* slab)
    {
        Debug.Assert(slab->Next == null && slab->Prev == null, "the slab is already on a list");
        slab->Prev = Tail;
        if (Tail != null)
        {
            Tail->Next = slab;
        }
        else
        {
            Head = slab;
        }

        Tail = slab;
        Count++;
    }

    /// <summary>Takes <paramref name="slab"/>, which is on this list, off it.</summary>
    public void Remove(SlabHeader* slab)
    {
        Debug.Assert(Count > 0, "removing a slab from an empty list");
        if (slab->Prev != null)
        {
            slab->Prev->Next = slab->Next;
        }
        else
        {
            Debug.Assert(Head == slab, "the slab is not on this list");
            Head = slab->Next;
        }

        if (slab->Next != null)
        {
            slab->Next->Prev = slab->Prev;
        }
        else
        {
            Debug.Assert(Tail == slab, "the slab is not on this list");
            Tail = slab->Prev;
        }

        slab->Next = slab->Prev = null;
        Count--;
    }
}
