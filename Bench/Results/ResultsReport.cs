using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Reports;

namespace Bench.Results;

/// <summary>
/// What the main job leaves for a reader at its end: the joined summary on standard output, and beside
/// BenchmarkDotNet's exported reports (<c>BenchmarkDotNet.Artifacts/results</c>) the same table as
/// <c>summary.csv</c> and the charts in <c>charts/</c>.
/// </summary>
public static class ResultsReport
{
    /// <summary>The file name of the joined summary's CSV in the results folder.</summary>
    public const string SummaryFileName = "summary.csv";

    /// <summary>The charts' folder inside the results folder.</summary>
    public const string ChartsFolderName = "charts";

    /// <summary>Prints the joined summary of <paramref name="summaries"/> and writes its CSV and charts.</summary>
    public static void Write(IReadOnlyList<Summary> summaries)
    {
        List<ResultRow> rows = ResultTable.FromSummaries(summaries);
        if (rows.Count == 0)
        {
            Console.WriteLine("No benchmark produced a result: no joined summary, no charts.");
            return;
        }

        string results = Path.GetFullPath(summaries.First().ResultsDirectoryPath);
        Directory.CreateDirectory(results);
        string csv = Path.Combine(results, SummaryFileName);
        ResultTable.WriteCsv(rows, csv);
        List<string> charts = ResultCharts.Write(rows, Path.Combine(results, ChartsFolderName));

        Print(rows);
        Console.WriteLine($"Reports (CSV, HTML, GitHub markdown) of each benchmark class: {results}");
        Console.WriteLine($"This table as CSV: {csv}");
        Console.WriteLine($"Charts ({charts.Count}): {Path.Combine(results, ChartsFolderName)}");
    }

    /// <summary>Prints the joined summary saved in <paramref name="summaryCsv"/> and redraws its charts beside it.</summary>
    public static void Redraw(string summaryCsv)
    {
        List<ResultRow> rows = ResultTable.ReadCsv(summaryCsv);
        string charts = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(summaryCsv))!, ChartsFolderName);
        int count = ResultCharts.Write(rows, charts).Count;
        Print(rows);
        Console.WriteLine($"Charts ({count}): {charts}");
    }

    private static void Print(IReadOnlyList<ResultRow> rows)
    {
        Console.WriteLine();
        Console.WriteLine("// * Joined summary: every category, median per operation, ratio against its peer *");
        Console.Write(ResultTable.Format(rows));
        Console.WriteLine();
    }
}
