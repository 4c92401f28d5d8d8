using System.Diagnostics;

namespace VmaEngine.Vma;

/// <summary>An intrusive doubly linked list node (<c>struct list_head</c>), 16 bytes.</summary>
/// <remarks>
/// A list is a head node linked in a ring with its members; an empty list's head points at itself. The helpers are
/// those of <c>include/linux/list.h</c> the engine uses. Whoever owns the list serialises changes to it.
/// </remarks>
internal unsafe struct ListHead
{
    /// <summary>The next node; the list head itself when the list is empty.</summary>
    public ListHead* Next;

    /// <summary>The previous node.</summary>
    public ListHead* Prev;

    /// <summary><c>INIT_LIST_HEAD</c>: makes <paramref name="head"/> an empty list.</summary>
    internal static void Init(ListHead* head) => head->Next = head->Prev = head;

    /// <summary><c>list_empty</c>.</summary>
    internal static bool IsEmpty(ListHead* head) => head->Next == head;

    /// <summary><c>list_is_singular</c>: the list has exactly one member.</summary>
    internal static bool IsSingular(ListHead* head) => head->Next != head && head->Next == head->Prev;

    /// <summary><c>list_add</c>: inserts <paramref name="node"/> right after <paramref name="head"/> (at the front).</summary>
    internal static void Add(ListHead* node, ListHead* head)
    {
        ListHead* first = head->Next;
        node->Next = first;
        node->Prev = head;
        first->Prev = node;
        head->Next = node;
    }

    /// <summary><c>list_del</c>: unlinks <paramref name="node"/> from its list and leaves it pointing at itself.</summary>
    internal static void Delete(ListHead* node)
    {
        Debug.Assert(node->Next->Prev == node && node->Prev->Next == node, "list_del of a corrupted list");
        node->Prev->Next = node->Next;
        node->Next->Prev = node->Prev;
        Init(node);
    }
}
