using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;

namespace Tests;

/// <summary>
/// Listens to one meter as a host's collector would and sums what its counters report, per instrument and tag set
/// (for example <c>vma.faults{path=retry,result=Ok}</c>); the observable instruments are read on <see cref="Observe"/>.
/// </summary>
public sealed class MeterReadings : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _sums = new();
    private readonly object _gate = new();

    public MeterReadings(string meterName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = Key(instrument.Name, tags);
            lock (_gate)
            {
                _sums[key] = _sums.GetValueOrDefault(key) + value;
            }
        });
        _listener.Start();
    }

    /// <summary>The sums of the counters' measurements since the last <see cref="Clear"/>, by instrument and tags.</summary>
    public Dictionary<string, long> Counted()
    {
        lock (_gate)
        {
            return new Dictionary<string, long>(_sums);
        }
    }

    /// <summary>Forgets what was counted.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _sums.Clear();
        }
    }

    /// <summary>Reads the observable instruments now: their values by instrument and tags.</summary>
    public Dictionary<string, long> Observe()
    {
        Clear();
        _listener.RecordObservableInstruments();
        Dictionary<string, long> observed = Counted();
        Clear();
        return observed;
    }

    public void Dispose() => _listener.Dispose();

    private static string Key(string instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return instrument;
        }

        IEnumerable<string> pairs = tags.ToArray().Select(tag => $"{tag.Key}={tag.Value}").Order(StringComparer.Ordinal);
        return $"{instrument}{{{string.Join(",", pairs)}}}";
    }
}
