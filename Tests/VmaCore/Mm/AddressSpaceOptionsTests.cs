using System;
using System.Collections.Generic;
using NUnit.Framework;
using VmaEngine.Vma;

namespace Tests.VmaCore.Mm;

/// <summary>
/// The constructor's argument checks: a null options object and every option outside its documented range are
/// refused at once, naming the option; the edges of each range are accepted.
/// </summary>
[TestFixture]
public class AddressSpaceOptionsTests
{
    private const ulong Page = MmConstants.PageSize;

    [Test]
    public void NullOptionsAreRefusedAtOnce()
    {
        var thrown = Assert.Throws<ArgumentNullException>(() => new AddressSpace(null!));
        Assert.That(thrown!.ParamName, Is.EqualTo("options"));
    }

    private static IEnumerable<TestCaseData> BadOptions()
    {
        yield return Bad(nameof(AddressSpaceOptions.TaskSize), new() { TaskSize = 0x1234 });
        yield return Bad(nameof(AddressSpaceOptions.TaskSize), new() { TaskSize = 0 });
        yield return Bad(nameof(AddressSpaceOptions.TaskSize), new() { TaskSize = MmConstants.DefaultMmapMinAddr });
        yield return Bad(nameof(AddressSpaceOptions.TaskSize), new() { TaskSize = 1UL << 56 });
        yield return Bad(nameof(AddressSpaceOptions.TaskSize), new() { TaskSize = ulong.MaxValue & MmConstants.PageMask });
        yield return Bad(nameof(AddressSpaceOptions.MaxMapCount), new() { MaxMapCount = -1 });
        yield return Bad(nameof(AddressSpaceOptions.MaxMapCount), new() { MaxMapCount = 0 });
        yield return Bad(nameof(AddressSpaceOptions.MaxMapCount), new() { MaxMapCount = int.MaxValue });
        yield return Bad(nameof(AddressSpaceOptions.MmapBase), new() { MmapBase = ulong.MaxValue });
        yield return Bad(nameof(AddressSpaceOptions.MmapBase), new() { MmapBase = 0x7F00_0000_0001 });
        yield return Bad(nameof(AddressSpaceOptions.MmapBase), new() { MmapBase = MmConstants.TaskSize + Page });
        yield return Bad(nameof(AddressSpaceOptions.MmapBase), new() { MmapBase = MmConstants.DefaultMmapMinAddr });
        yield return Bad(nameof(AddressSpaceOptions.MmapMinAddr), new() { MmapMinAddr = 1 });
        yield return Bad(nameof(AddressSpaceOptions.StackGuardGap), new() { StackGuardGap = Page + 1 });
        yield return Bad(nameof(AddressSpaceOptions.StackGuardGap), new() { StackGuardGap = ulong.MaxValue & MmConstants.PageMask });
        yield return Bad(nameof(AddressSpaceOptions.StartBrk), new() { StartBrk = 0x5555_5600_0010 });
        yield return Bad(nameof(AddressSpaceOptions.StartBrk), new() { StartBrk = MmConstants.TaskSize });
        yield return Bad(nameof(AddressSpaceOptions.StartBrk), new() { StartBrk = MmConstants.DefaultMmapMinAddr - Page });
    }

    private static TestCaseData Bad(string option, AddressSpaceOptions options) =>
        new TestCaseData(option, options).SetArgDisplayNames($"{option} #{++s_badCase}");

    private static int s_badCase;

    [TestCaseSource(nameof(BadOptions))]
    public void AnOptionOutsideItsRangeIsRefusedNamingTheOption(string option, AddressSpaceOptions options)
    {
        var thrown = Assert.Throws<ArgumentOutOfRangeException>(() => new AddressSpace(options).Dispose());
        Assert.Multiple(() =>
        {
            Assert.That(thrown!.ParamName, Is.EqualTo(option));
            Assert.That(thrown.Message, Does.Contain("must be"));
        });
    }

    private static IEnumerable<TestCaseData> EdgeOptions()
    {
        yield return new TestCaseData(new AddressSpaceOptions { TaskSize = AddressSpaceOptions.TaskSizeLimit }).SetArgDisplayNames("5-level TASK_SIZE");
        yield return new TestCaseData(new AddressSpaceOptions { MaxMapCount = 1 }).SetArgDisplayNames("MaxMapCount 1");
        yield return new TestCaseData(new AddressSpaceOptions { MaxMapCount = AddressSpaceOptions.MaxMapCountLimit }).SetArgDisplayNames("MaxMapCount limit");
        yield return new TestCaseData(new AddressSpaceOptions { MmapMinAddr = 0, StartBrk = 0 }).SetArgDisplayNames("mmap_min_addr 0");
        yield return new TestCaseData(new AddressSpaceOptions { MmapBase = MmConstants.TaskSize }).SetArgDisplayNames("MmapBase at TaskSize");
        yield return new TestCaseData(new AddressSpaceOptions { StackGuardGap = 0, StackLimit = 0 }).SetArgDisplayNames("no guard gap, no stack");
        yield return new TestCaseData(new AddressSpaceOptions { StackLimit = ulong.MaxValue }).SetArgDisplayNames("RLIM_INFINITY stack");
    }

    [TestCaseSource(nameof(EdgeOptions))]
    public void TheEdgesOfEachRangeAreAccepted(AddressSpaceOptions options)
    {
        using var space = new AddressSpace(options);
        Assert.That(space.Mmap(0, Page, Prot.Read, MapFlags.Private | MapFlags.Anonymous, out ulong mapped), Is.EqualTo(Errno.None));
        Assert.That(mapped, Is.GreaterThanOrEqualTo(options.MmapMinAddr).And.LessThan(options.TaskSize));
    }
}
