using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Bench.Results;

/// <summary>
/// Draws the main job's results with ScottPlot, one PNG per category: where a category ran with several numbers of
/// VMAs (the tree lookups, the lock path, free-range search, the merge pairs), the median cost against the number of
/// VMAs on a log scale, one line per method with its peer beside it; elsewhere (the slab, RCU, the OS pages),
/// horizontal bars, the peer's in grey.
/// </summary>
public static class ResultCharts
{
    private const int Width = 1000;
    private const int Height = 560;

    /// <summary>Writes the charts of <paramref name="rows"/> into <paramref name="folder"/>; returns their paths.</summary>
    public static List<string> Write(IReadOnlyList<ResultRow> rows, string folder)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        foreach (IGrouping<(string Suite, string Category), ResultRow> category in rows.GroupBy(row => (row.Suite, row.Category)))
        {
            bool scales = category.Select(row => row.Vmas).Distinct().Count(vmas => vmas is > 0) >= 2;
            Plot plot = scales ? CostAgainstVmas(category) : Bars(category);
            plot.Title($"{category.Key.Suite}: {category.Key.Category}");
            string path = Path.Combine(folder, FileName(category.Key.Suite, category.Key.Category));
            plot.SavePng(path, Width, Height);
            written.Add(path);
        }

        return written;
    }

    /// <summary>One line per method: median cost against the number of VMAs, the x axis in powers of ten.</summary>
    private static Plot CostAgainstVmas(IEnumerable<ResultRow> category)
    {
        var plot = new Plot();
        foreach (IGrouping<string, ResultRow> method in category.Where(row => row.Vmas is > 0).GroupBy(row => row.Method))
        {
            ResultRow[] points = method.OrderBy(row => row.Vmas).ToArray();
            double[] xs = points.Select(row => Math.Log10(row.Vmas!.Value)).ToArray();
            double[] ys = points.Select(row => row.MedianNs).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = points[0].IsBaseline ? method.Key + " (peer)" : method.Key;
            line.MarkerSize = 8;
            line.LineWidth = 2;
            if (points[0].IsBaseline)
            {
                line.LinePattern = LinePattern.Dashed;
            }
        }

        var ticks = new NumericManual();
        foreach (long vmas in category.Select(row => row.Vmas).OfType<long>().Where(vmas => vmas > 0).Distinct().Order())
        {
            ticks.AddMajor(Math.Log10(vmas), FormatCount(vmas));
        }

        plot.Axes.Bottom.TickGenerator = ticks;
        plot.XLabel("VMAs (log scale)");
        plot.YLabel("median ns per operation");
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsY(0, category.Max(row => row.MedianNs) * 1.15);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>One horizontal bar per method (and number of VMAs, if it has one), the peer's in grey.</summary>
    private static Plot Bars(IEnumerable<ResultRow> category)
    {
        var plot = new Plot();
        ResultRow[] rows = category.ToArray();
        var bars = new List<Bar>();
        var ticks = new NumericManual();
        for (int i = 0; i < rows.Length; i++)
        {
            ResultRow row = rows[i];
            double position = rows.Length - 1 - i;
            bars.Add(new Bar
            {
                Position = position,
                Value = row.MedianNs,
                FillColor = row.IsBaseline ? Colors.Gray : Colors.SteelBlue,
                Label = ResultTable.FormatTime(row.MedianNs),
            });
            string name = row.Vmas is null ? row.Method : $"{row.Method}, {FormatCount(row.Vmas.Value)} VMAs";
            ticks.AddMajor(position, row.IsBaseline ? name + " (peer)" : name);
        }

        var barPlot = plot.Add.Bars(bars);
        barPlot.Horizontal = true;
        barPlot.ValueLabelStyle.FontSize = 12;
        plot.Axes.Left.TickGenerator = ticks;
        plot.XLabel("median ns per operation");
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsX(0, rows.Max(row => row.MedianNs) * 1.2);
        return plot;
    }

    /// <summary>
    /// The chart's file name: suite and category joined by a dash, each run of characters other than letters and
    /// digits made one dash ("RcuBenchmarks-Grace-period-no-reader-inside.png").
    /// </summary>
    public static string FileName(string suite, string category)
    {
        var name = new StringBuilder();
        foreach (char c in $"{suite}-{category}")
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                name.Append(c);
            }
            else if (name.Length > 0 && name[^1] != '-')
            {
                name.Append('-');
            }
        }

        return name.ToString().TrimEnd('-') + ".png";
    }

    /// <summary>1000 as 1k, 1000000 as 1M.</summary>
    private static string FormatCount(long count) => count switch
    {
        >= 1_000_000 when count % 1_000_000 == 0 => $"{count / 1_000_000}M",
        >= 1_000 when count % 1_000 == 0 => $"{count / 1_000}k",
        _ => count.ToString(CultureInfo.InvariantCulture),
    };
}
