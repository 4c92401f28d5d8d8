using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// <see cref="AddressSpace.FormatMaps(MapsFormat)"/>: the maps-only form is exactly what <c>/proc/pid/maps</c>
/// prints, and the maps+VmFlags form adds one smaps <c>VmFlags:</c> line after each maps line.
/// </summary>
[TestFixture]
public class MapsFormatTests
{
    /// <summary>A /proc/pid/maps line: range, permissions, offset, device, inode, then a padded name or nothing.</summary>
    private static readonly Regex s_mapsLine = new(
        @"^[0-9a-f]{8,}-[0-9a-f]{8,} [r-][w-][x-][sp] [0-9a-f]{8,} [0-9a-f]{2,}:[0-9a-f]{2,} [0-9]+ ( +\S.*)?$",
        RegexOptions.CultureInvariant);

    [Test]
    public void MapsFormPrintsOneProcMapsLinePerVma()
    {
        using var files = new FileRegistry();
        using AddressSpace space = NewLayout(files);
        string[] lines = space.FormatMaps(MapsFormat.Maps).Split('\n');
        Assert.That(lines[^1], Is.Empty, "every line ends in \\n");
        Assert.That(lines[..^1], Has.Length.EqualTo(space.MapCount));
        Assert.That(lines[0], Is.EqualTo("1000000000-1000002000 rw-p 00000000 00:00 0 "));
        Assert.That(lines[1], Is.EqualTo("1000002000-1000003000 r--p 00000000 00:00 0 ".PadRight(72) + " [anon:x]"));
        Assert.That(lines[2], Does.StartWith("1000004000-1000005000 r-xp 00003000 00:01 ").And.EndWith(" lib.so"));
        Assert.That(lines[^2], Does.EndWith(" [heap]"));
        Assert.That(lines[..^1], Has.All.Match(s_mapsLine.ToString()));
    }

    [Test]
    public void MapsWithVmFlagsFormAddsTheVmFlagsLineAfterEachMapsLine()
    {
        using var files = new FileRegistry();
        using AddressSpace space = NewLayout(files);
        string[] maps = space.FormatMaps(MapsFormat.Maps).Split('\n')[..^1];
        string[] full = space.FormatMaps(MapsFormat.MapsWithVmFlags).Split('\n')[..^1];
        Assert.That(full, Has.Length.EqualTo(2 * maps.Length));
        Assert.That(full.Where((_, i) => i % 2 == 0), Is.EqualTo(maps));
        Assert.That(full.Where((_, i) => i % 2 == 1), Has.All.StartWith("VmFlags: ").And.EndWith(" "));
        Assert.That(full[1], Is.EqualTo("VmFlags: rd wr mr mw me ac sd "));
        Assert.That(space.FormatMaps(), Is.EqualTo(space.FormatMaps(MapsFormat.MapsWithVmFlags)));
    }

    [Test]
    public void LineSyntaxIsTheKernels()
    {
        Assume.That(File.Exists("/proc/self/maps"), "needs a Linux /proc");
        string[] kernel = File.ReadAllLines("/proc/self/maps");
        Assert.That(kernel, Is.Not.Empty);
        Assert.That(kernel, Has.All.Match(s_mapsLine.ToString()), "the pattern the engine's lines are held to is the kernel's");
    }

    [Test]
    public void EmptySpacePrintsNothing()
    {
        using var space = new AddressSpace();
        Assert.That(space.FormatMaps(MapsFormat.Maps), Is.Empty);
    }

    [TestCase(-1)]
    [TestCase(2)]
    public void UndefinedFormatIsRejected(int format)
    {
        using var space = new AddressSpace();
        Assert.That(() => space.FormatMaps((MapsFormat)format), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("format"));
    }

    /// <summary>Anonymous, named anonymous, file and heap VMAs under the v6.15 profile.</summary>
    private static AddressSpace NewLayout(FileRegistry files)
    {
        var space = new AddressSpace(AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileV615));
        const MapFlags anonymous = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
        Assert.That(space.Mmap(P(0), L(2), Prot.Read | Prot.Write, anonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(2), L(1), Prot.Read, anonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(space.SetAnonName(P(2), L(1), "x"), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(4), L(1), Prot.Read | Prot.Exec, MapFlags.Private | MapFlags.Fixed, files.Open("lib.so", 16), L(3), out _), Is.EqualTo(Errno.None));
        ulong startBrk = space.Options.StartBrk;
        space.Brk(startBrk + L(2), out ulong brk);
        Assert.That(brk, Is.EqualTo(startBrk + L(2)));
        return space;
    }
}
