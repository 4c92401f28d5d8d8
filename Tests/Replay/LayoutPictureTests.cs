using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using NUnit.Framework;
using Replay;
using Replay.Picture;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// <see cref="LayoutPicture"/> and <c>Replay --svg</c>: one row per <c>maps</c>, one box per VMA it printed, boxes
/// placed by page, coloured by protection and marked by flags; well-formed SVG whatever the names hold.
/// </summary>
[TestFixture]
public class LayoutPictureTests
{
    private const string Trace = """
        mmap 0 16 rw
        mmap 20 4 r shared
        mmap 24 8 rx file=lib:0
        maps
        touch 0 4
        mprotect 4 4 r
        madvise 8 4 dontfork
        maps
        mlock 12 4
        mprotect 4 4 rw
        munmap 26 2
        maps
        """;

    private static readonly XNamespace s_svg = "http://www.w3.org/2000/svg";

    [Test]
    public void RowsAndBoxesAreTheSnapshotsAndTheirVmas()
    {
        (XDocument picture, string output) = Draw(Trace, new AddressSpaceOptions());
        List<List<string>> printed = MapsBlocks(output);
        List<XElement> rows = Rows(picture);
        Assert.That(rows, Has.Count.EqualTo(printed.Count).And.Count.EqualTo(3));
        Assert.That(rows.Select(row => (string?)row.Attribute("data-line")), Is.EqualTo(new[] { "4", "8", "12" }));
        for (int i = 0; i < rows.Count; i++)
        {
            List<XElement> boxes = Boxes(rows[i]);
            Assert.That(boxes.Select(box => box.Element(s_svg + "title")!.Value), Is.EqualTo(printed[i]), $"row {i}");
        }
    }

    [Test]
    public void BoxesArePlacedByPage()
    {
        (XDocument picture, _) = Draw(Trace, new AddressSpaceOptions());
        List<XElement> first = Boxes(Rows(picture)[0]);
        double[] x = first.Select(box => Attribute(box, "x")).ToArray();
        double[] width = first.Select(box => Attribute(box, "width")).ToArray();
        Assert.That(width[0] / width[1], Is.EqualTo(16.0 / 4).Within(1e-6), "0-16 is four times 20-24");
        Assert.That((x[1] - x[0]) / width[1], Is.EqualTo(20.0 / 4).Within(1e-6), "20-24 starts 20 pages after 0");
        Assert.That(x[2], Is.EqualTo(x[1] + width[1]).Within(1e-6), "24-32 touches 20-24");
        List<XElement> last = Boxes(Rows(picture)[2]);
        Assert.That(last.Select(box => Attribute(box, "x")), Is.Ordered.Ascending);
    }

    [Test]
    public void ColourFollowsProtectionAndMarksFollowFlags()
    {
        (XDocument picture, _) = Draw(Trace, new AddressSpaceOptions());
        List<XElement> row = Boxes(Rows(picture)[1]);
        string[] fills = row.Select(box => (string)box.Attribute("fill")!).ToArray();
        string[] perms = row.Select(box => box.Element(s_svg + "title")!.Value.Split(' ')[1]).ToArray();
        for (int i = 0; i < row.Count; i++)
        {
            for (int j = 0; j < row.Count; j++)
            {
                Assert.That(fills[i] == fills[j], Is.EqualTo(perms[i][..3] == perms[j][..3]), $"boxes {i} and {j}");
            }
        }

        Assert.That(row.Select(box => box.Attribute("stroke-dasharray") != null), Is.EqualTo(perms.Select(p => p[3] == 's')));
        Assert.That(
            Rows(picture)[1].Descendants(s_svg + "circle").Count(),
            Is.EqualTo(4),
            "touch gave 0-16 its anon_vma, which the three splits keep; the shared and file VMAs have none");
        string labels = string.Join('|', Rows(picture)[1].Descendants(s_svg + "text").Select(text => text.Value));
        Assert.That(labels, Does.Contain("rw-p ac dc"));
        string legend = string.Join('|', picture.Descendants(s_svg + "text").Where(IsLegend).Select(text => text.Value));
        Assert.That(legend, Does.Contain("dc: do not copy on fork").And.Contain("lo: locked").And.Not.Contain("gd:"));
    }

    [Test]
    public void NamesAreEscaped()
    {
        (XDocument picture, _) = Draw("mmap 0 4 rw\nname 0 2 a<b&c>\"'\nmaps\n", new AddressSpaceOptions());
        using var text = new StringWriter();
        picture.Save(text);
        XDocument reread = XDocument.Parse(text.ToString());
        Assert.That(Boxes(Rows(reread)[0])[0].Element(s_svg + "title")!.Value, Does.Contain("[anon:a<b&c>\"']"));
    }

    [Test]
    public void TraceWithoutMapsDrawsNoRows()
    {
        (XDocument picture, _) = Draw("mmap 0 4 rw\n", new AddressSpaceOptions());
        Assert.That(Rows(picture), Is.Empty);
        Assert.That(picture.Root!.Name, Is.EqualTo(s_svg + "svg"));
    }

    [Test]
    public void SvgOptionWritesThePictureBesideTheOutput()
    {
        string trace = Path.GetTempFileName();
        string svg = Path.GetTempFileName();
        try
        {
            File.WriteAllText(trace, Trace);
            using var output = new StringWriter { NewLine = "\n" };
            using var error = new StringWriter();
            Assert.That(Program.Run(["--svg", svg, trace], output, error), Is.Zero, error.ToString());
            Assert.That(Rows(XDocument.Load(svg)), Has.Count.EqualTo(3));
            Assert.That(output.ToString(), Does.StartWith("maps\n0-16 rw-p"));
        }
        finally
        {
            File.Delete(trace);
            File.Delete(svg);
        }
    }

    [Test]
    public void ReadmePictureIsTheWorkedExamplesPicture()
    {
        string root = Path.GetFullPath(Path.Combine(TraceCorpus.Root, "..", "..", ".."));
        string trace = File.ReadAllText(Path.Combine(root, "docs", "worked-example.trace"));
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        Assert.That(readme, Does.Contain($"```\n{trace}```\n").And.Contain("](docs/worked-example.svg)"));
        var snapshots = new List<LayoutSnapshot>();
        using var error = new StringWriter();
        Assert.That(TraceRunner.Run(new StringReader(trace), TextWriter.Null, new AddressSpaceOptions(), error, snapshots), Is.Zero);
        XDocument drawn = LayoutPicture.Draw(snapshots, "worked-example.trace");
        Assert.That(
            XDocument.Load(Path.Combine(root, "docs", "worked-example.svg")).ToString(),
            Is.EqualTo(drawn.ToString()),
            "regenerate: Replay --svg docs/worked-example.svg docs/worked-example.trace");
    }

    private static (XDocument Picture, string Output) Draw(string trace, AddressSpaceOptions options)
    {
        var snapshots = new List<LayoutSnapshot>();
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter();
        Assert.That(TraceRunner.Run(new StringReader(trace), output, options, error, snapshots), Is.Zero, error.ToString());
        return (LayoutPicture.Draw(snapshots, "test"), output.ToString());
    }

    /// <summary>The VMA lines of each maps block of the printed output.</summary>
    private static List<List<string>> MapsBlocks(string output)
    {
        var blocks = new List<List<string>>();
        foreach (string line in output.Split('\n'))
        {
            if (line == "maps")
            {
                blocks.Add([]);
            }
            else if (line != "end" && line.Length > 0 && !line.StartsWith("error", StringComparison.Ordinal))
            {
                blocks[^1].Add(line);
            }
        }

        return blocks;
    }

    private static List<XElement> Rows(XDocument picture) =>
        picture.Descendants(s_svg + "g").Where(g => (string?)g.Attribute("class") == "snapshot").ToList();

    private static List<XElement> Boxes(XElement row) =>
        row.Descendants(s_svg + "rect").Where(rect => (string?)rect.Attribute("class") == "vma").ToList();

    private static bool IsLegend(XElement text) => text.Ancestors(s_svg + "g").Any(g => (string?)g.Attribute("class") == "legend");

    private static double Attribute(XElement element, string name) => double.Parse((string)element.Attribute(name)!, CultureInfo.InvariantCulture);
}
