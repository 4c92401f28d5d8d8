using System.Collections.Generic;
using System.Diagnostics.Metrics;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab.Statistics;

[TestFixture]
public unsafe class SlabMetricsTests
{
    [Test]
    public void MetricsPublishTheSlabInfoFiguresPerCache()
    {
        using var cache = new SlabCache<Vma192>("metrics_cache", new SlabCacheOptions { Alignment = 64, FreePointerOffset = 0, Flags = SlabFlags.TypesafeByRcu });
        var objects = new nint[100];
        cache.AllocBulk(objects);

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SlabMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == SlabMetrics.CacheTag && (string?)tag.Value == "metrics_cache")
                {
                    seen[instrument.Name] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        SlabInfo info = cache.Info;
        Assert.That(seen, Is.EquivalentTo(new Dictionary<string, long>
        {
            ["slab.active_objects"] = 100,
            ["slab.objects"] = info.TotalObjects,
            ["slab.slabs"] = info.Slabs,
            ["slab.committed"] = info.CommittedBytes,
        }));
        cache.FreeBulk(objects);
    }

    [Test]
    public void ADisposedEmptyCacheLeavesTheMetrics()
    {
        var cache = new SlabCache<Vma192>("metrics_gone", new SlabCacheOptions());
        cache.Free(cache.Alloc());
        cache.Dispose();
        bool seen = false;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SlabMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                seen |= (string?)tag.Value == "metrics_gone";
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.That(seen, Is.False);
    }
}
