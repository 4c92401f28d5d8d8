using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Xml;
using System.Xml.Linq;
using VmaEngine.Vma;

namespace Replay.Picture;

/// <summary>
/// Draws the <c>maps</c> snapshots of a trace as an SVG picture: one row per snapshot (time down), window pages
/// across, each VMA a box coloured by its protection and labelled with its flags, so merges and splits show as boxes
/// joining and parting from one row to the next.
/// </summary>
/// <remarks>
/// Each row is a <c>g</c> of class <c>snapshot</c> holding one <c>rect</c> of class <c>vma</c> per VMA (with a
/// <c>title</c> tooltip: the VMA's line as <c>maps</c> prints it); a shared mapping (VM_MAYSHARE) has a dashed
/// outline, and a dot marks a VMA that has an anon_vma (it was faulted). The box label, shown when it fits, is the
/// permissions, the kept flags that the permissions do not already say (the legend explains them) and the name. The
/// horizontal scale is linear over the pages the snapshots use; a box is at least one pixel wide.
/// </remarks>
public static class LayoutPicture
{
    private const double Left = 80;
    private const double PlotWidth = 960;
    private const double Top = 56;
    private const double RowHeight = 26;
    private const double RowGap = 10;
    private const double CharWidth = 6.2;
    private const double LegendLine = 18;

    private static readonly XNamespace s_svg = "http://www.w3.org/2000/svg";

    /// <summary>The fill of each protection (r, w, x bits), with its legend text.</summary>
    private static readonly (string Perms, string Colour)[] s_protColours =
    [
        ("---", "#d9d9d9"), ("r--", "#9ecae1"), ("-w-", "#c7e9c0"), ("rw-", "#74c476"),
        ("--x", "#fdd0a2"), ("r-x", "#fd8d3c"), ("-wx", "#fcbba1"), ("rwx", "#e6550d"),
    ];

    /// <summary>The kept mnemonics a label shows (the others repeat the permissions), with their legend text.</summary>
    private static readonly (string Mnemonic, string Meaning)[] s_markers =
    [
        ("ac", "accounted (VM_ACCOUNT)"), ("dc", "do not copy on fork"), ("dd", "do not dump"), ("de", "do not expand"),
        ("gd", "grows down"), ("hg", "hugepage advice"), ("ht", "hugetlb"), ("lo", "locked"), ("nh", "nohugepage advice"),
        ("nr", "no reserve"), ("rr", "random read advice"), ("sr", "sequential read advice"), ("wf", "wipe on fork"),
    ];

    /// <summary>Writes the picture of <paramref name="snapshots"/> to <paramref name="output"/> as SVG text (indented, <c>\n</c> line ends).</summary>
    public static void Write(IReadOnlyList<LayoutSnapshot> snapshots, string title, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var settings = new XmlWriterSettings { Indent = true, NewLineChars = "\n", NewLineHandling = NewLineHandling.Replace };
        using var writer = XmlWriter.Create(output, settings);
        Draw(snapshots, title).Save(writer);
    }

    /// <summary>The picture of <paramref name="snapshots"/> (titled <paramref name="title"/>) as an SVG document.</summary>
    public static XDocument Draw(IReadOnlyList<LayoutSnapshot> snapshots, string title)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        ArgumentNullException.ThrowIfNull(title);
        List<VmaInfo> all = snapshots.SelectMany(snapshot => snapshot.Vmas).ToList();
        ulong low = all.Count > 0 ? all.Min(vma => MapsPrinter.Page(vma.Start)) : 0;
        ulong high = all.Count > 0 ? all.Max(vma => MapsPrinter.Page(vma.End)) : 1;
        var scale = new PageScale(low, high);

        var rows = new XElement(s_svg + "g", new XAttribute("class", "snapshots"));
        for (int i = 0; i < snapshots.Count; i++)
        {
            rows.Add(Row(snapshots[i], Top + (i * (RowHeight + RowGap)), scale));
        }

        double legendTop = Top + (snapshots.Count * (RowHeight + RowGap)) + 10;
        XElement legend = Legend(legendTop, all, out double legendBottom);
        double height = legendBottom + 10;
        return new XDocument(new XElement(
            s_svg + "svg",
            new XAttribute("width", Number(Left + PlotWidth + 20)),
            new XAttribute("height", Number(height)),
            new XAttribute("viewBox", $"0 0 {Number(Left + PlotWidth + 20)} {Number(height)}"),
            new XAttribute("font-family", "monospace"),
            new XAttribute("font-size", "11"),
            new XElement(s_svg + "title", title),
            new XElement(s_svg + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "white")),
            Text(Left, 18, title, "title", fontSize: 14),
            Axis(scale),
            rows,
            legend));
    }

    private static XElement Row(LayoutSnapshot snapshot, double y, PageScale scale)
    {
        var row = new XElement(
            s_svg + "g",
            new XAttribute("class", "snapshot"),
            new XAttribute("data-line", snapshot.Line),
            Text(4, y + (RowHeight / 2) + 4, $"line {snapshot.Line}", "row-label"));
        foreach (VmaInfo vma in snapshot.Vmas)
        {
            row.Add(Box(vma, y, scale));
        }

        return row;
    }

    private static XElement Box(in VmaInfo vma, double y, PageScale scale)
    {
        ulong start = MapsPrinter.Page(vma.Start);
        ulong end = MapsPrinter.Page(vma.End);
        double x = scale.X(start);
        double width = Math.Max(1, scale.X(end) - x);
        string perms = MapsPrinter.Perms(vma);
        List<string> flags = MapsPrinter.Mnemonics(vma.Flags);
        var rect = new XElement(
            s_svg + "rect",
            new XAttribute("class", "vma"),
            new XAttribute("x", Number(x)),
            new XAttribute("y", Number(y)),
            new XAttribute("width", Number(width)),
            new XAttribute("height", Number(RowHeight)),
            new XAttribute("fill", Colour(perms)),
            new XAttribute("stroke", "#333333"),
            new XElement(
                s_svg + "title",
                $"{start}-{end} {perms} {(vma.Backing == VmaBacking.Anonymous ? "-" : vma.Pgoff)} {MapsPrinter.Name(vma)} {string.Join(',', flags)}"));
        if (perms[3] == 's')
        {
            rect.Add(new XAttribute("stroke-dasharray", "4 2"));
        }

        var box = new XElement(s_svg + "g", rect);
        if (vma.AnonVmaId != 0)
        {
            box.Add(new XElement(
                s_svg + "circle",
                new XAttribute("class", "anon-vma"),
                new XAttribute("cx", Number(x + Math.Min(4, width / 2))),
                new XAttribute("cy", Number(y + 4)),
                new XAttribute("r", "2.5"),
                new XAttribute("fill", "#222222")));
        }

        string name = MapsPrinter.Name(vma);
        string label = string.Join(' ', new[] { perms }.Concat(flags.Where(IsMarker)).Append(name == "-" ? "" : name)).TrimEnd();
        if (label.Length * CharWidth + 10 <= width)
        {
            box.Add(Text(x + 7, y + (RowHeight / 2) + 4, label, "vma-label"));
        }

        return box;
    }

    private static XElement Axis(PageScale scale)
    {
        var axis = new XElement(s_svg + "g", new XAttribute("class", "axis"), Text(4, Top - 22, "page", "axis-label"));
        foreach (ulong page in scale.Ticks())
        {
            double x = scale.X(page);
            axis.Add(
                new XElement(
                    s_svg + "line",
                    new XAttribute("x1", Number(x)),
                    new XAttribute("x2", Number(x)),
                    new XAttribute("y1", Number(Top - 8)),
                    new XAttribute("y2", Number(Top - 2)),
                    new XAttribute("stroke", "#333333")),
                Text(x, Top - 12, page.ToString(CultureInfo.InvariantCulture), "tick", anchor: "middle"));
        }

        return axis;
    }

    /// <summary>The protection colours, the markers, and the meaning of each label flag that the picture shows.</summary>
    private static XElement Legend(double top, List<VmaInfo> all, out double bottom)
    {
        var legend = new XElement(s_svg + "g", new XAttribute("class", "legend"));
        double x = Left;
        foreach ((string perms, string colour) in s_protColours)
        {
            legend.Add(
                new XElement(
                    s_svg + "rect",
                    new XAttribute("class", "legend-swatch"),
                    new XAttribute("x", Number(x)),
                    new XAttribute("y", Number(top)),
                    new XAttribute("width", "14"),
                    new XAttribute("height", "12"),
                    new XAttribute("fill", colour),
                    new XAttribute("stroke", "#333333")),
                Text(x + 18, top + 10, perms, "legend-text"));
            x += 60;
        }

        double y = top + LegendLine + 12;
        legend.Add(Text(Left, y, "box: one VMA, labelled PERMS, flags, name; dashed outline: shared (s); dot: has an anon_vma (faulted)", "legend-line"));
        HashSet<string> shown = all.SelectMany(vma => MapsPrinter.Mnemonics(vma.Flags)).ToHashSet(StringComparer.Ordinal);
        foreach ((string mnemonic, string meaning) in s_markers.Where(marker => shown.Contains(marker.Mnemonic)))
        {
            y += LegendLine;
            legend.Add(Text(Left, y, $"{mnemonic}: {meaning}", "legend-line"));
        }

        bottom = y + 4;
        return legend;
    }

    private static bool IsMarker(string mnemonic) => Array.Exists(s_markers, marker => marker.Mnemonic == mnemonic);

    private static string Colour(string perms) => Array.Find(s_protColours, entry => entry.Perms == perms[..3]).Colour;

    private static XElement Text(double x, double y, string text, string cssClass, int fontSize = 0, string? anchor = null)
    {
        var element = new XElement(
            s_svg + "text",
            new XAttribute("class", cssClass),
            new XAttribute("x", Number(x)),
            new XAttribute("y", Number(y)),
            text);
        if (fontSize > 0)
        {
            element.Add(new XAttribute("font-size", fontSize));
        }

        if (anchor != null)
        {
            element.Add(new XAttribute("text-anchor", anchor));
        }

        return element;
    }

    private static string Number(double value) => Math.Round(value, 2).ToString(CultureInfo.InvariantCulture);

    /// <summary>Window pages to x coordinates, linear over [low, high).</summary>
    private readonly struct PageScale(ulong low, ulong high)
    {
        private readonly double _pixelsPerPage = PlotWidth / Math.Max(1, high - low);

        public double X(ulong page) => Left + ((page - low) * _pixelsPerPage);

        /// <summary>Up to about ten round page numbers (steps of 1, 2 or 5 times a power of ten) from low to high.</summary>
        public IEnumerable<ulong> Ticks()
        {
            ulong span = Math.Max(1, high - low);
            ulong step = 1;
            while (span / step > 10)
            {
                step = step.ToString(CultureInfo.InvariantCulture)[0] switch
                {
                    '1' => step * 2,
                    '2' => step / 2 * 5,
                    _ => step * 2,
                };
            }

            for (ulong page = (low + step - 1) / step * step; page <= high; page += step)
            {
                yield return page;
            }
        }
    }
}
