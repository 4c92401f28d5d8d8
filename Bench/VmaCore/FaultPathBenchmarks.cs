using System;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using VmaEngine.Vma;

namespace Bench.VmaCore;

/// <summary>
/// The fault path a vCPU thread takes for a page of a VMA that is already set up (it has its anon_vma): one
/// <see cref="AddressSpace.Fault"/> at a random address of a random VMA, against its own first step alone, the
/// per-VMA read lock taken and released under RCU (<see cref="AddressSpace.LockVmaUnderRcu"/> and
/// <see cref="AddressSpace.VmaEndRead"/>). The layout: 3-page read-write private anonymous VMAs, each followed by a
/// 1-page hole, every page touched once in the setup. With <c>--without meters</c> (see <see cref="Program"/>) the
/// same cases run again on a build whose meters are compiled out, which is what the meters cost when nobody listens.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class FaultPathBenchmarks
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong UnitPages = 4;
    private const ulong Base = 0x1000_0000_0000;
    private const int Queries = 4096;

    private AddressSpace _space = null!;
    private ulong[] _queries = null!;

    /// <summary>How many VMAs the layout holds.</summary>
    [Params(1_000, 100_000)]
    public int Vmas { get; set; }

    [GlobalSetup]
    public void SetUp()
    {
        _space = new AddressSpace(new AddressSpaceOptions { MaxMapCount = 2 * Vmas });
        for (int i = 0; i < Vmas; i++)
        {
            ulong unit = Base + ((ulong)i * UnitPages * Page);
            Check(_space.Mmap(unit, 3 * Page, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, out _) == Errno.None, "layout");
            Check(_space.Touch(unit, 3 * Page) == Errno.None, "touch");
        }

        var rng = new Random(42);
        _queries = new ulong[Queries];
        for (int i = 0; i < Queries; i++)
        {
            _queries[i] = Base + ((ulong)rng.Next(Vmas) * UnitPages * Page) + (ulong)rng.NextInt64(3 * (long)Page);
        }

        Check(_space.MapCount == Vmas && Fault() == Queries, "every query is handled");
        Console.WriteLine($"// FaultPathBenchmarks: the meters' event sites are {(FaultsAreCounted() ? "present" : "compiled out")} in this build.");
    }

    [GlobalCleanup]
    public void CleanUp() => _space.Dispose();

    [BenchmarkCategory("Fault"), Benchmark(Baseline = true, OperationsPerInvoke = Queries, Description = "LockVmaUnderRcu+VmaEndRead")]
    public int LockPath()
    {
        int locked = 0;
        foreach (ulong address in _queries)
        {
            VmArea* vma = _space.LockVmaUnderRcu(address);
            if (vma != null)
            {
                locked++;
                AddressSpace.VmaEndRead(vma);
            }
        }

        return locked;
    }

    [BenchmarkCategory("Fault"), Benchmark(OperationsPerInvoke = Queries, Description = "Fault (write, VMA set up)")]
    public int Fault()
    {
        int handled = 0;
        foreach (ulong address in _queries)
        {
            if (_space.Fault(address, FaultAccess.Write) == FaultResult.Ok)
            {
                handled++;
            }
        }

        return handled;
    }

    /// <summary>Whether a fault is counted on <c>vma.faults</c> while a listener is enabled: false only in the build without meters.</summary>
    private bool FaultsAreCounted()
    {
        long counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == VmaMetrics.MeterName && instrument.Name == "vma.faults")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => counted += value);
        listener.Start();
        _space.Fault(_queries[0], FaultAccess.Write);
        return counted > 0;
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"FaultPathBenchmarks setup failed: {what}.");
        }
    }
}
