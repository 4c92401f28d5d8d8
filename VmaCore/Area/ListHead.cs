namespace VmaCore;

/// <summary>An intrusive doubly linked list node (<c>struct list_head</c>), 16 bytes.</summary>
public unsafe struct ListHead
{
    /// <summary>The next node; the list head itself when the list is empty.</summary>
    public ListHead* Next;

    /// <summary>The previous node.</summary>
    public ListHead* Prev;
}
