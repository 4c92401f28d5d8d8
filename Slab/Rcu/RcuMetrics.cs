using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace VmaEngine.Slab;

/// <summary>
/// The RCU flavours' figures (<see cref="Rcu"/>, <see cref="RcuQsbr"/>), published through
/// <see cref="System.Diagnostics.Metrics"/> as observable instruments tagged with the flavour: grace periods, callbacks
/// queued and the backlog of callbacks waiting for their grace period. They read counters RCU keeps anyway, only when
/// a listener collects them, so they cost nothing otherwise. Watch them with
/// <c>dotnet-counters monitor --counters VmaEngine.Rcu -p PID</c>.
/// </summary>
public static class RcuMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "VmaEngine.Rcu";

    /// <summary>The tag that carries the flavour (<c>memb</c> for <see cref="Rcu"/>, <c>qsbr</c> for <see cref="RcuQsbr"/>).</summary>
    public const string FlavourTag = "flavour";

    /// <summary>The flavours' domains; guarded by itself. Domains live as long as the process.</summary>
    private static readonly List<RcuDomain> s_domains = new();

    /// <summary>The meter; instruments are created with it.</summary>
    private static readonly Meter s_meter = CreateMeter();

    /// <summary>The meter of the RCU flavours.</summary>
    public static Meter Meter => s_meter;

    /// <summary>Adds a flavour's domain to the figures.</summary>
    internal static void Register(RcuDomain domain)
    {
        lock (s_domains)
        {
            s_domains.Add(domain);
        }
    }

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, "1.0");
        meter.CreateObservableCounter("rcu.grace_periods", () => Measure(domain => domain.GracePeriods), "{grace_period}", "Grace periods completed or in progress.");
        meter.CreateObservableCounter("rcu.callbacks.queued", () => Measure(domain => domain.Callbacks.Queued), "{callback}", "Callbacks queued (call_rcu).");
        meter.CreateObservableUpDownCounter("rcu.callbacks.backlog", () => Measure(domain => domain.Callbacks.Backlog), "{callback}", "Callbacks queued and not yet run.");
        return meter;
    }

    private static Measurement<long>[] Measure(Func<RcuDomain, long> figure)
    {
        lock (s_domains)
        {
            return s_domains.ConvertAll(domain => new Measurement<long>(figure(domain), new KeyValuePair<string, object?>(FlavourTag, domain.Name))).ToArray();
        }
    }
}
