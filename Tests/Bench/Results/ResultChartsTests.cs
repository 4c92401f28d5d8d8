using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Bench.Results;
using NUnit.Framework;

namespace Tests.Bench.Results;

/// <summary>The main job's joined summary and charts, made from a saved results CSV without running a benchmark.</summary>
[TestFixture]
public class ResultChartsTests
{
    private const string SavedResults = """
        suite,category,method,vmas,median_ns,baseline
        VmaTreeBenchmarks,FindVma,SortedSet,1000,10,true
        VmaTreeBenchmarks,FindVma,SortedSet,100000,20,true
        VmaTreeBenchmarks,FindVma,SortedSet,1000000,40,true
        VmaTreeBenchmarks,FindVma,VmaTree.Load,1000,5,false
        VmaTreeBenchmarks,FindVma,VmaTree.Load,100000,6,false
        VmaTreeBenchmarks,FindVma,VmaTree.Load,1000000,9,false
        SlabBenchmarks,Pair,NativeMemory.AlignedAlloc+AlignedFree,,40,true
        SlabBenchmarks,Pair,"SlabCache Alloc, Free on ""another"" thread",,10,false
        """;

    private string _folder = "";

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"vmaengine-results-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void TheCsvReadsBackAsWritten()
    {
        List<ResultRow> rows = ReadSaved();
        Assert.That(rows, Has.Count.EqualTo(8));
        Assert.That(rows[7], Is.EqualTo(new ResultRow("SlabBenchmarks", "Pair", "SlabCache Alloc, Free on \"another\" thread", null, 10, false)));

        string copy = Path.Combine(_folder, "copy.csv");
        ResultTable.WriteCsv(rows, copy);
        Assert.That(ResultTable.ReadCsv(copy), Is.EqualTo(rows));
    }

    [Test]
    public void TheJoinedSummaryGivesEachCaseItsRatioAgainstThePeerOfItsGroup()
    {
        string[] lines = ResultTable.Format(ReadSaved()).Split('\n');
        string Line(string method, string vmas) => lines.Single(line => line.Contains(method, StringComparison.Ordinal) && line.Contains(vmas, StringComparison.Ordinal));

        Assert.That(Line("VmaTree.Load", "1,000,000"), Does.EndWith("9.000 ns    0.23"));
        Assert.That(Line("VmaTree.Load", "100,000"), Does.EndWith("6.000 ns    0.30"));
        Assert.That(Line("SortedSet (peer)", "1,000 "), Does.EndWith("10.000 ns    1.00"));
        Assert.That(Line("another", ""), Does.EndWith("10.000 ns    0.25"));
    }

    [Test]
    public void ACategoryRunAtSeveralSizesAndOneWithoutSizesEachGetAPng()
    {
        List<string> charts = ResultCharts.Write(ReadSaved(), _folder);

        Assert.That(charts.Select(Path.GetFileName), Is.EquivalentTo(new[] { "VmaTreeBenchmarks-FindVma.png", "SlabBenchmarks-Pair.png" }));
        foreach (string chart in charts)
        {
            byte[] png = File.ReadAllBytes(chart);
            Assert.That(png.Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), $"{chart} is not a PNG");
            Assert.That(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), Is.EqualTo(1000), "width");
            Assert.That(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)), Is.EqualTo(560), "height");
        }
    }

    [Test]
    public void AChartIsNamedForItsSuiteAndCategoryWithFileSafeCharacters()
    {
        Assert.That(ResultCharts.FileName("RcuBenchmarks", "Grace period, no reader inside"), Is.EqualTo("RcuBenchmarks-Grace-period-no-reader-inside.png"));
        Assert.That(ResultCharts.FileName("SlabBenchmarks", "1000 pairs (a batch)"), Is.EqualTo("SlabBenchmarks-1000-pairs-a-batch.png"));
    }

    private List<ResultRow> ReadSaved()
    {
        string path = Path.Combine(_folder, "saved.csv");
        File.WriteAllText(path, SavedResults);
        return ResultTable.ReadCsv(path);
    }
}
