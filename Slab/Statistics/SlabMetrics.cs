using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace VmaEngine.Slab;

/// <summary>
/// The figures of <see cref="SlabInfo"/> for every cache, published through <see cref="System.Diagnostics.Metrics"/>
/// as observable gauges tagged with the cache name, read only when a listener collects them. Watch them with
/// <c>dotnet-counters monitor --counters VmaEngine.Slab -p PID</c>.
/// </summary>
public static class SlabMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "VmaEngine.Slab";

    /// <summary>The tag that carries the cache name.</summary>
    public const string CacheTag = "cache";

    /// <summary>The meter; instruments are created with it.</summary>
    private static readonly Meter s_meter = CreateMeter();

    /// <summary>The meter of the slab caches.</summary>
    public static Meter Meter => s_meter;

    /// <summary>Makes sure the instruments exist (the static initialiser creates them).</summary>
    internal static void EnsureCreated() => GC.KeepAlive(s_meter);

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, "1.0");
        meter.CreateObservableGauge("slab.active_objects", () => Measure(info => info.ActiveObjects), "{object}", "Objects allocated and not freed.");
        meter.CreateObservableGauge("slab.objects", () => Measure(info => info.TotalObjects), "{object}", "Object slots in the cache's slabs.");
        meter.CreateObservableGauge("slab.slabs", () => Measure(info => info.Slabs), "{slab}", "Slabs the cache holds.");
        meter.CreateObservableGauge("slab.committed", () => Measure(info => info.CommittedBytes), "By", "Committed memory of the cache, metadata included.");
        return meter;
    }

    private static IEnumerable<Measurement<long>> Measure(Func<SlabInfo, long> figure)
    {
        foreach (KmemCache cache in SlabCacheRegistry.Snapshot())
        {
            SlabInfo info = cache.Info;
            yield return new Measurement<long>(Math.Max(0, figure(info)), new KeyValuePair<string, object?>(CacheTag, info.Name));
        }
    }
}
