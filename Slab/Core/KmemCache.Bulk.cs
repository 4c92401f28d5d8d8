using System;

namespace VmaEngine.Slab;

/// <summary>
/// <c>kmem_cache_alloc_bulk</c> and <c>kmem_cache_free_bulk</c>: one look-up of the calling thread's magazines for
/// the whole batch (a thread-static access costs more than the pop or push itself), then the same pops and pushes
/// as the single-object paths, refilling or emptying a whole magazine at a time.
/// </summary>
internal sealed unsafe partial class KmemCache
{
    /// <summary>Fills <paramref name="objects"/> with new objects, all or none; false when the OS refuses memory.</summary>
    public bool AllocBulk(Span<nint> objects)
    {
        ThrowIfDisposed();
        if (_debug)
        {
            return AllocEach(objects);
        }

        ThreadCache magazines = CurrentThreadCache();
        for (int i = 0; i < objects.Length; i++)
        {
            if (magazines.LoadedCount == 0 && !Reload(magazines))
            {
                FreeBulk(objects[..i]);
                objects[..i].Clear();
                return false;
            }

            byte* obj = magazines.Loaded;
            magazines.Loaded = FreePointer.Get(obj, _freePointerOffset);
            magazines.LoadedCount--;
            objects[i] = (nint)obj;
        }

        return true;
    }

    /// <summary>
    /// Frees every object of <paramref name="objects"/>. A null among them is rejected before anything is freed, and
    /// so is any pointer the ownership check rejects (<see cref="CheckBulkFree"/>), except in a debug or disposed
    /// cache, which checks and frees one object at a time: the objects before the bad one are then freed.
    /// </summary>
    public void FreeBulk(ReadOnlySpan<nint> objects)
    {
        if (objects.Contains(0))
        {
            ThrowNullObject();
        }

        if (_debug || _disposed)
        {
            foreach (nint obj in objects)
            {
                FreeSlow((byte*)obj);
            }

            return;
        }

        ThreadCache magazines = CurrentThreadCache();
        CheckBulkFree(objects, magazines);
        foreach (nint obj in objects)
        {
            if (magazines.LoadedCount == magazines.Capacity)
            {
                MakeRoom(magazines);
            }

            FreePointer.Set((byte*)obj, _freePointerOffset, magazines.Loaded);
            magazines.Loaded = (byte*)obj;
            magazines.LoadedCount++;
        }
    }

    /// <summary>The debug cache's bulk alloc: one checked object at a time, all or none.</summary>
    private bool AllocEach(Span<nint> objects)
    {
        for (int i = 0; i < objects.Length; i++)
        {
            byte* obj = AllocDebug();
            if (obj == null)
            {
                FreeBulk(objects[..i]);
                objects[..i].Clear();
                return false;
            }

            objects[i] = (nint)obj;
        }

        return true;
    }
}
