using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Slab;

/// <summary>
/// A cache of <typeparamref name="T"/> objects (the kernel's kmem_cache).
/// FIRST VERSION: a lock-protected free list over NativeMemory; the SLUB design replaces it (issue 3).
/// </summary>
public sealed unsafe class SlabCache<T> : IDisposable where T : unmanaged
{
    private readonly object _lock = new();
    private readonly Stack<nint> _free = new();
    private readonly HashSet<nint> _live = new();
    private readonly SlabCacheOptions _options;
    private readonly nuint _alignment;

    public SlabCache(string name, SlabCacheOptions options)
    {
        Name = name;
        _options = options;
        _alignment = (nuint)Math.Max(8, options.Alignment);
    }

    public string Name { get; }

    public SlabInfo Info
    {
        get
        {
            lock (_lock)
            {
                return new SlabInfo(Name, sizeof(T), 1, 1, _live.Count, _live.Count + _free.Count, 0, 0);
            }
        }
    }

    /// <summary>Allocates an object; throws <see cref="OutOfMemoryException"/> when no memory is left.</summary>
    public T* Alloc() => TryAlloc() is var p && p != null ? p : throw new OutOfMemoryException($"Cache {Name} could not allocate an object.");

    /// <summary>Allocates an object, or returns null when no memory is left (kmem_cache_alloc).</summary>
    public T* TryAlloc()
    {
        lock (_lock)
        {
            T* obj;
            if (_free.Count > 0)
            {
                obj = (T*)_free.Pop();
            }
            else
            {
                obj = (T*)NativeMemory.AlignedAlloc((nuint)sizeof(T), _alignment);
                NativeMemory.Clear(obj, (nuint)sizeof(T));
                _options.Constructor?.Invoke(obj);
            }

            _live.Add((nint)obj);
            return obj;
        }
    }

    public void Free(T* obj)
    {
        lock (_lock)
        {
            if (!_live.Remove((nint)obj))
            {
                throw new InvalidOperationException($"Cache {Name}: 0x{(nint)obj:x} is not a live object of this cache.");
            }

            _free.Push((nint)obj);
        }
    }

    /// <summary>Frees the object after an RCU grace period (kfree_rcu).</summary>
    public void FreeRcu(T* obj)
    {
        nint p = (nint)obj;
        Rcu.Call(() => Free((T*)p));
    }

    public void Shrink()
    {
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (nint p in _free)
            {
                NativeMemory.AlignedFree((void*)p);
            }

            _free.Clear();
        }
    }
}
