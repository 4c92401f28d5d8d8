using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using VmaEngine.Native;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;

namespace Bench.VmaCore;

/// <summary>
/// Issue 15's speed goal: a system call of a backed space (<see cref="GuestMemory"/>) costs at most 1.3x the host
/// calls it makes. Each category pairs the backed operations with exactly the host calls they make (the unit test
/// <c>GuestSyscallHostCallTests</c> counts them), issued directly on a range of a reservation of its own:
/// <list type="bullet">
/// <item>MmapMunmap: a 16-page private anonymous mmap and its munmap; on the host a fixed mmap (readable only: the
/// first write of a VMA without anon_vma traps) and the PROT_NONE mmap that returns the range to the reservation.</item>
/// <item>MprotectSplitMerge: read-only, then read-write again, for the middle 8 pages of a written 16-page read-write
/// VMA (a split in three, then the merge back); on the host two mprotects.</item>
/// <item>MremapMove: the written 16 pages moved to a free range and back (<c>MREMAP_MAYMOVE | MREMAP_FIXED</c>); on
/// the host per move an mremap and the PROT_NONE mmap that gives the left range back to the reservation.</item>
/// </list>
/// The guest space holds 1,024 other written 64-page VMAs of alternating protection (64k pages, as the small layout
/// of <see cref="GuestMemoryBenchmarks"/>), each a host mapping too.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GuestSyscallBenchmarks
{
    /// <summary>The pages of the range each operation works on.</summary>
    public const int RangePages = 16;

    private const ulong Page = 4096;
    private const ulong Low = 0x10_0000_0000;
    private const int LayoutVmas = 1024;
    private const ulong PagesPerLayoutVma = 64;

    /// <summary>The range the mprotect cases split: pages 4 to 11 of the 16.</summary>
    private const ulong SplitOffset = 4 * Page;
    private const ulong SplitSize = 8 * Page;

    private const ulong RangeSize = RangePages * Page;
    private const Prot ReadWrite = Prot.Read | Prot.Write;
    private const MapFlags PrivateFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const MremapFlags MoveFixed = MremapFlags.MayMove | MremapFlags.Fixed;

    private GuestMemory _guest = null!;

    /// <summary>Where the backed mmap+munmap maps, the written range and where it moves to, in the guest.</summary>
    private ulong _mmapAt;
    private ulong _written;
    private ulong _moveTo;

    /// <summary>The peers' reservation: the same three ranges on the host.</summary>
    private nint _host;
    private nuint _hostSize;

    [GlobalSetup]
    public void Setup()
    {
        ulong layoutEnd = Low + (LayoutVmas * PagesPerLayoutVma * Page);
        _mmapAt = layoutEnd + (64 * Page);
        _written = _mmapAt + (64 * Page);
        _moveTo = _written + (64 * Page);
        ulong high = _moveTo + (64UL << 20);
        var options = new AddressSpaceOptions { MmapMinAddr = Low, TaskSize = high, MmapBase = high, StartBrk = Low };
        _guest = new GuestMemory(Low, high, options);
        for (ulong address = Low; address < layoutEnd; address += PagesPerLayoutVma * Page)
        {
            Prot prot = ((address - Low) / (PagesPerLayoutVma * Page) % 2 == 0) ? ReadWrite : ReadWrite | Prot.Exec;
            Check(_guest.Mmap(address, PagesPerLayoutVma * Page, prot, PrivateFixed, out _));
            WriteThroughTranslate(address, PagesPerLayoutVma * Page);
        }

        Check(_guest.Mmap(_written, RangeSize, ReadWrite, PrivateFixed, out _));
        WriteThroughTranslate(_written, RangeSize);

        _hostSize = (nuint)(_moveTo + RangeSize - _mmapAt);
        _host = HostMapping.Reserve(_hostSize);
        HostMapping.MapAnonymous(HostWritten, (nuint)RangeSize, HostProtection.Read | HostProtection.Write);
        for (nuint offset = 0; offset < (nuint)RangeSize; offset += (nuint)Page)
        {
            unsafe
            {
                *(byte*)(HostWritten + (nint)offset) = 1;
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _guest.Dispose();
        HostMapping.Release(_host, _hostSize);
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("MmapMunmap")]
    public void HostMmapMunmap()
    {
        HostMapping.MapAnonymous(_host, (nuint)RangeSize, HostProtection.Read);
        HostMapping.ReturnToReservation(_host, (nuint)RangeSize);
    }

    [Benchmark]
    [BenchmarkCategory("MmapMunmap")]
    public void BackedMmapMunmap()
    {
        Check(_guest.Mmap(_mmapAt, RangeSize, ReadWrite, PrivateFixed, out _));
        Check(_guest.Munmap(_mmapAt, RangeSize));
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("MprotectSplitMerge")]
    public void HostMprotectSplitMerge()
    {
        HostMapping.Protect(HostWritten + (nint)SplitOffset, (nuint)SplitSize, HostProtection.Read);
        HostMapping.Protect(HostWritten + (nint)SplitOffset, (nuint)SplitSize, HostProtection.Read | HostProtection.Write);
    }

    [Benchmark]
    [BenchmarkCategory("MprotectSplitMerge")]
    public void BackedMprotectSplitMerge()
    {
        Check(_guest.Mprotect(_written + SplitOffset, SplitSize, Prot.Read));
        Check(_guest.Mprotect(_written + SplitOffset, SplitSize, ReadWrite));
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("MremapMove")]
    public void HostMremapMoveAndBack()
    {
        nint written = HostWritten;
        nint moveTo = HostMoveTo;
        MoveOnHost(written, moveTo);
        MoveOnHost(moveTo, written);
    }

    [Benchmark]
    [BenchmarkCategory("MremapMove")]
    public void BackedMremapMoveAndBack()
    {
        Check(_guest.Mremap(_written, RangeSize, RangeSize, MoveFixed, _moveTo, out _));
        Check(_guest.Mremap(_moveTo, RangeSize, RangeSize, MoveFixed, _written, out _));
    }

    /// <summary>The peer's written range.</summary>
    private nint HostWritten => _host + (nint)(_written - _mmapAt);

    /// <summary>Where the peer moves it.</summary>
    private nint HostMoveTo => _host + (nint)(_moveTo - _mmapAt);

    /// <summary>What a backed move asks of the host: the move, and the source given back to the reservation.</summary>
    private static void MoveOnHost(nint from, nint to)
    {
        if (!HostMapping.TryMove(from, (nuint)RangeSize, (nuint)RangeSize, to))
        {
            throw new InvalidOperationException("the host refused to move one mapping");
        }

        HostMapping.ReturnToReservation(from, (nuint)RangeSize);
    }

    /// <summary>Writes one byte in every page of [<paramref name="start"/>, +<paramref name="size"/>) through <see cref="GuestMemory.Translate"/>, faulting first.</summary>
    private unsafe void WriteThroughTranslate(ulong start, ulong size)
    {
        for (ulong address = start; address < start + size; address += Page)
        {
            if (_guest.Translate(address, FaultAccess.Write, out nint host) != TranslateStatus.Ok)
            {
                if (_guest.Fault(address, FaultAccess.Write) != FaultResult.Ok
                    || _guest.Translate(address, FaultAccess.Write, out host) != TranslateStatus.Ok)
                {
                    throw new InvalidOperationException($"the write at {address:x} faulted");
                }
            }

            *(byte*)host = 1;
        }
    }

    private static void Check(Errno error)
    {
        if (error != Errno.None)
        {
            throw new InvalidOperationException($"a backed call failed with {error}");
        }
    }
}
