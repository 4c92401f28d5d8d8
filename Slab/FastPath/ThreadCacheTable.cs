using System;
using System.Runtime.CompilerServices;

namespace VmaEngine.Slab;

/// <summary>
/// The calling thread's <see cref="ThreadCache"/> of every cache, indexed by the cache's small
/// <see cref="KmemCache.Id"/>: one thread-static array load and one bounds check on the fast path, cheaper than
/// <c>ThreadLocal&lt;T&gt;</c>. An entry may be stale (its cache was disposed and the id reused); callers compare
/// <see cref="ThreadCache.Cache"/> with themselves.
/// </summary>
internal static class ThreadCacheTable
{
    /// <summary>This thread's table; grown on demand.</summary>
    [ThreadStatic]
    private static ThreadCache?[]? t_caches;

    /// <summary>The calling thread's entry for cache <paramref name="id"/>, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ThreadCache? Find(int id)
    {
        ThreadCache?[]? table = t_caches;
        return table is not null && (uint)id < (uint)table.Length ? table[id] : null;
    }

    /// <summary>Makes <paramref name="cache"/> the calling thread's entry for cache <paramref name="id"/>.</summary>
    public static void Store(int id, ThreadCache cache)
    {
        ThreadCache?[]? table = t_caches;
        if (table is null || id >= table.Length)
        {
            Array.Resize(ref table, Math.Max(id + 1, Math.Max(8, (table?.Length ?? 0) * 2)));
            t_caches = table;
        }

        table[id] = cache;
    }
}
