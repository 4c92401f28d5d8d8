using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using BenchmarkDotNet.Parameters;
using BenchmarkDotNet.Reports;

namespace Bench.Results;

/// <summary>
/// The main job's results as one table: read from BenchmarkDotNet's <see cref="Summary"/> objects, saved to and
/// read back from a CSV file (<c>suite,category,method,vmas,median_ns,baseline</c>), and printed as the joined
/// summary with each case's ratio against its peer.
/// </summary>
public static class ResultTable
{
    /// <summary>The name of the benchmarks' parameter that is the number of VMAs.</summary>
    public const string VmasParameter = "Vmas";

    private const string CsvHeader = "suite,category,method,vmas,median_ns,baseline";

    /// <summary>The measured cases of <paramref name="summaries"/> (cases that failed to run are left out).</summary>
    public static List<ResultRow> FromSummaries(IEnumerable<Summary> summaries)
    {
        var rows = new List<ResultRow>();
        foreach (Summary summary in summaries)
        {
            foreach (BenchmarkReport report in summary.Reports)
            {
                if (report.ResultStatistics is null)
                {
                    continue;
                }

                var descriptor = report.BenchmarkCase.Descriptor;
                ParameterInstance? vmas = report.BenchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == VmasParameter);
                rows.Add(new ResultRow(
                    descriptor.Type.Name,
                    descriptor.Categories.FirstOrDefault() ?? descriptor.Type.Name,
                    descriptor.WorkloadMethodDisplayInfo.Trim('\''),
                    vmas is null ? null : Convert.ToInt64(vmas.Value, CultureInfo.InvariantCulture),
                    report.ResultStatistics.Median,
                    descriptor.Baseline));
            }
        }

        return rows;
    }

    /// <summary>Writes <paramref name="rows"/> to a CSV file at <paramref name="path"/>.</summary>
    public static void WriteCsv(IEnumerable<ResultRow> rows, string path)
    {
        var text = new StringBuilder(CsvHeader).Append('\n');
        foreach (ResultRow row in rows)
        {
            text.Append(CultureInfo.InvariantCulture, $"{Quote(row.Suite)},{Quote(row.Category)},{Quote(row.Method)},{row.Vmas},")
                .Append(CultureInfo.InvariantCulture, $"{row.MedianNs:R},{(row.IsBaseline ? "true" : "false")}\n");
        }

        File.WriteAllText(path, text.ToString());
    }

    /// <summary>Reads rows written by <see cref="WriteCsv"/>; blank lines are skipped.</summary>
    /// <exception cref="FormatException">A line that is not such a row, with its number.</exception>
    public static List<ResultRow> ReadCsv(string path)
    {
        string[] lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0] != CsvHeader)
        {
            throw new FormatException($"{path}: the first line is not '{CsvHeader}'");
        }

        var rows = new List<ResultRow>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            List<string> fields = SplitCsvLine(lines[i]);
            if (fields.Count != 6 || !double.TryParse(fields[4], NumberStyles.Float, CultureInfo.InvariantCulture, out double median)
                || !bool.TryParse(fields[5], out bool baseline))
            {
                throw new FormatException($"{path}:{i + 1}: not a result row: {lines[i]}");
            }

            long? vmas = fields[3].Length == 0 ? null : long.Parse(fields[3], CultureInfo.InvariantCulture);
            rows.Add(new ResultRow(fields[0], fields[1], fields[2], vmas, median, baseline));
        }

        return rows;
    }

    /// <summary>
    /// The joined summary: every case, suite by suite and category by category, with its median and its ratio
    /// against the peer of its group (1.00 for the peer itself; blank where a group has no peer).
    /// </summary>
    public static string Format(IReadOnlyList<ResultRow> rows)
    {
        const string Layout = "{0,-20} {1,-30} {2,-58} {3,10} {4,14} {5,7}";
        var text = new StringBuilder();
        text.AppendLine(string.Format(CultureInfo.InvariantCulture, Layout, "Suite", "Category", "Method", "VMAs", "Median", "Ratio"));
        text.AppendLine(new string('-', 144));
        foreach (IGrouping<(string Suite, string Category, long? Vmas), ResultRow> group in rows.GroupBy(row => row.Group))
        {
            ResultRow? peer = group.FirstOrDefault(row => row.IsBaseline);
            foreach (ResultRow row in group)
            {
                string ratio = peer is null || peer.MedianNs <= 0 ? "" : (row.MedianNs / peer.MedianNs).ToString("0.00", CultureInfo.InvariantCulture);
                text.AppendLine(string.Format(
                    CultureInfo.InvariantCulture, Layout, row.Suite, row.Category, row.IsBaseline ? row.Method + " (peer)" : row.Method,
                    row.Vmas?.ToString("N0", CultureInfo.InvariantCulture) ?? "", FormatTime(row.MedianNs), ratio));
            }
        }

        return text.ToString();
    }

    /// <summary>A duration in nanoseconds with the unit that keeps it readable.</summary>
    public static string FormatTime(double nanoseconds) => nanoseconds switch
    {
        >= 1e9 => (nanoseconds / 1e9).ToString("0.000 's'", CultureInfo.InvariantCulture),
        >= 1e6 => (nanoseconds / 1e6).ToString("0.000 'ms'", CultureInfo.InvariantCulture),
        >= 1e3 => (nanoseconds / 1e3).ToString("0.000 'us'", CultureInfo.InvariantCulture),
        _ => nanoseconds.ToString("0.000 'ns'", CultureInfo.InvariantCulture),
    };

    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static List<string> SplitCsvLine(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"')
            {
                field.Append('"');
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return fields;
    }
}
