using System.Collections.Generic;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// Every cache of the process that still holds memory (the kernel's <c>slab_caches</c> list): the source of
/// <see cref="SlabMetrics"/> and of the small ids that index <see cref="ThreadCacheTable"/>. A cache leaves when it
/// is disposed and holds nothing; a disposed cache with objects left stays, so its memory stays reachable.
/// </summary>
internal static class SlabCacheRegistry
{
    /// <summary>Guards <see cref="s_caches"/>.</summary>
    private static readonly Lock s_lock = new();

    /// <summary>Caches by id; null marks a free id, reused by the next cache.</summary>
    private static readonly List<KmemCache?> s_caches = new();

    /// <summary>Adds a cache and returns its id, the lowest free one.</summary>
    public static int Register(KmemCache cache)
    {
        SlabMetrics.EnsureCreated();
        lock (s_lock)
        {
            int id = s_caches.IndexOf(null);
            if (id < 0)
            {
                id = s_caches.Count;
                s_caches.Add(cache);
            }
            else
            {
                s_caches[id] = cache;
            }

            return id;
        }
    }

    /// <summary>Removes a cache; its id becomes free.</summary>
    public static void Unregister(KmemCache cache)
    {
        lock (s_lock)
        {
            s_caches[cache.Id] = null;
        }
    }

    /// <summary>The registered caches.</summary>
    public static List<KmemCache> Snapshot()
    {
        lock (s_lock)
        {
            var caches = new List<KmemCache>(s_caches.Count);
            foreach (KmemCache? cache in s_caches)
            {
                if (cache is not null)
                {
                    caches.Add(cache);
                }
            }

            return caches;
        }
    }
}
