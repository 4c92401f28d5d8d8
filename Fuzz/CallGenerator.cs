using System;
using VmaEngine.Vma;

namespace Fuzz;

/// <summary>
/// Draws random system calls with arguments from all 64-bit values, biased toward edges: 0, 1, page-1, page, page+1,
/// mmap_min_addr, TASK_SIZE±page, 2^47, 2^63, 2^64-page, lengths that make address + length wrap or end exactly at
/// 2^64 or TASK_SIZE, random flag and protection bits including unknown ones. Most addresses fall in a few dozen
/// pages at <see cref="Zones.Focus"/> so that calls meet each other's VMAs.
/// </summary>
/// <remarks>
/// Against the kernel the calls are confined (<see cref="IsConfined"/>): a call whose arguments pass the kernel's
/// checks must act only inside the zones, so it never meets the helper's own mappings, and it must not map or fault in
/// more than <see cref="MaxMapping"/> bytes. Calls outside that are drawn again. Engine-only runs take every draw.
/// </remarks>
internal sealed class CallGenerator
{
    /// <summary>The largest mapping a kernel-side call may create (16 MiB): real memory is faulted in.</summary>
    public const ulong MaxMapping = 16UL << 20;

    private const ulong Page = MmConstants.PageSize;
    private const ulong TaskSize = MmConstants.TaskSize;

    /// <summary>The MAP_* bits drawn besides the type: the modelled ones and bits the engine does not know.</summary>
    private static readonly uint[] s_mapBits =
    [
        0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000,
        0x80000, 0x100000, 0x200000, 0x400000, 0x4000000, 0x8000000, 0x80000000,
    ];

    /// <summary>The small edge values every address and length draws from: 0, 1, page-1, page, page+1.</summary>
    private static readonly ulong[] s_smallEdges = [0, 1, Page - 1, Page, Page + 1];

    /// <summary>The MAP_* bits the kernel side leaves out (not modelled: hugetlb pages).</summary>
    private const uint UnmodelledMapBits = 0x40000;

    /// <summary>MREMAP_DONTUNMAP: not modelled by the engine (documented EINVAL), left out on the kernel side.</summary>
    private const ulong MremapDontUnmap = 4;

    /// <summary>MAP_32BIT: a placement the engine does not model.</summary>
    private const uint Map32Bit = 0x40;

    /// <summary>MAP_DROPPABLE, a MAP_TYPE value the engine does not model.</summary>
    private const uint MapDroppable = 0x08;

    private readonly Random _random;
    private readonly Zones _zones;
    private readonly ulong _startBrk;
    private readonly ulong _mmapMinAddr;
    private readonly bool _confine;
    private readonly bool _brkEdges;

    /// <summary>A generator; <paramref name="confine"/> for calls that also run on the kernel.</summary>
    /// <param name="seed">The seed: the same seed draws the same calls.</param>
    /// <param name="zones">Where calls may act.</param>
    /// <param name="startBrk">The start of the heap (brk values are drawn around it).</param>
    /// <param name="mmapMinAddr">mmap_min_addr (an edge value).</param>
    /// <param name="confine">Whether to keep only calls that stay inside the zones (see the remarks).</param>
    /// <param name="brkEdges">
    /// Whether brk may be given values at or above TASK_SIZE (known differences being fixed on another branch: the
    /// engine maps a heap above TASK_SIZE or throws).
    /// </param>
    public CallGenerator(int seed, Zones zones, ulong startBrk, ulong mmapMinAddr, bool confine, bool brkEdges)
    {
        _random = new Random(seed);
        _zones = zones;
        _startBrk = startBrk;
        _mmapMinAddr = mmapMinAddr;
        _confine = confine;
        _brkEdges = brkEdges;
    }

    /// <summary>A random number of calls for the next case (1 to 40).</summary>
    public int NextCaseLength() => 1 + _random.Next(40);

    /// <summary>The next call.</summary>
    public FuzzCall Next()
    {
        while (true)
        {
            FuzzCall call = Draw();
            if ((_brkEdges || call.Kind != CallKind.Brk || call.A0 < TaskSize) && (!_confine || IsConfined(call)))
            {
                return call;
            }
        }
    }

    private FuzzCall Draw()
    {
        int pick = _random.Next(100);
        ulong address = Address();
        ulong length = Length(address);
        return pick switch
        {
            < 16 => new FuzzCall(CallKind.Mmap, address, length, MmapProt(), MmapFlags(anonymous: true)),
            < 22 => new FuzzCall(CallKind.MmapFile, address, length, MmapProt(), MmapFlags(anonymous: false), Offset()),
            < 32 => new FuzzCall(CallKind.Munmap, address, length),
            < 44 => new FuzzCall(CallKind.Mprotect, address, length, MprotectProt()),
            < 54 => new FuzzCall(CallKind.Madvise, address, length, AdviceValue()),
            < 60 => new FuzzCall(CallKind.Mlock, address, length),
            < 65 => new FuzzCall(CallKind.Munlock, address, length),
            < 77 => new FuzzCall(CallKind.Mremap, address, length, Length(address), MremapFlagBits(), Address()),
            < 82 => new FuzzCall(CallKind.Brk, BrkValue()),
            < 84 => new FuzzCall(CallKind.SetAnonName, address, length, (ulong)_random.Next(3)),
            < 93 => new FuzzCall(CallKind.Fault, address, (ulong)_random.Next(_confine ? 2 : 3)),
            _ => new FuzzCall(CallKind.Touch, address, length),
        };
    }

    /// <summary>An address: mostly a page near the focus, sometimes an edge value of the whole 64-bit range.</summary>
    private ulong Address()
    {
        if (_random.Next(10) < 6)
        {
            ulong page = Zones.Focus + ((ulong)_random.Next(40) * Page);
            return _random.Next(12) == 0 ? page + SubPage() : page;
        }

        int pick = _random.Next(20);
        return pick < s_smallEdges.Length ? s_smallEdges[pick] : pick switch
        {
            5 => _mmapMinAddr - Page,
            6 => _mmapMinAddr,
            7 => TaskSize - Page,
            8 => TaskSize - (2 * Page),
            9 => TaskSize,
            10 => TaskSize + Page,
            11 => 1UL << 47,
            12 => 1UL << 63,
            13 => (1UL << 63) - Page,
            14 => ulong.MaxValue - Page + 1,
            15 => ulong.MaxValue,
            16 => Zones.Focus - Page,
            17 => RandomUlong() & MmConstants.PageMask & ((1UL << 47) - 1),
            18 => _zones.Empty.End - Page,
            _ => RandomUlong(),
        };
    }

    /// <summary>A length: mostly a few pages, sometimes an edge, or one that makes the range wrap or end at an edge.</summary>
    private ulong Length(ulong address)
    {
        if (_random.Next(10) < 6)
        {
            ulong pages = (ulong)_random.Next(12) * Page;
            return _random.Next(10) == 0 ? pages + SubPage() : pages;
        }

        int pick = _random.Next(20);
        return pick < s_smallEdges.Length ? s_smallEdges[pick] : pick switch
        {
            5 => TaskSize,
            6 => TaskSize - Page,
            7 => TaskSize + Page,
            8 => 1UL << 47,
            9 => 1UL << 63,
            10 => ulong.MaxValue - Page + 1,
            11 => ulong.MaxValue,
            12 => 0 - address,
            13 => 0 - address + Page,
            14 => 0 - address - Page,
            15 => TaskSize - address,
            16 => TaskSize - address + Page,
            17 => (ulong)_random.Next() * Page,
            18 => MaxMapping + Page,
            _ => RandomUlong(),
        };
    }

    private ulong SubPage() => _random.Next(3) switch
    {
        0 => 1,
        1 => Page - 1,
        _ => (ulong)_random.Next(1, (int)Page),
    };

    private ulong RandomUlong() => (ulong)_random.NextInt64() ^ ((ulong)_random.Next(2) << 63);

    /// <summary>A random bit out of 32 or a random 32-bit value, for the unknown-bits cases.</summary>
    private uint RandomBits() => _random.Next(2) == 0 ? 1U << _random.Next(32) : (uint)_random.NextInt64(1L << 32);

    private ulong MmapProt() => _random.Next(10) == 0 ? RandomBits() : (ulong)_random.Next(8);

    private ulong MprotectProt() => _random.Next(8) switch
    {
        0 => RandomBits(),
        1 => (ulong)_random.Next(8) | 0x0100_0000,
        2 => (ulong)_random.Next(8) | 0x0200_0000,
        3 => (ulong)_random.Next(16),
        _ => (ulong)_random.Next(8),
    };

    private ulong MmapFlags(bool anonymous)
    {
        uint type = _random.Next(20) switch
        {
            < 14 => 0x02,
            < 18 => 0x01,
            18 => 0x03,
            _ => (uint)_random.Next(16),
        };
        if (_confine && type == MapDroppable)
        {
            type = 0;
        }

        uint flags = type | (anonymous ? 0x20U : 0);
        flags |= _random.Next(10) switch
        {
            < 6 => 0x10U,
            6 => 0x100000U,
            _ => 0,
        };
        int extra = _random.Next(4) == 0 ? _random.Next(1, 4) : 0;
        for (int i = 0; i < extra; i++)
        {
            flags |= s_mapBits[_random.Next(s_mapBits.Length)];
        }

        if (_random.Next(30) == 0)
        {
            flags |= RandomBits() & ~0xFU;
        }

        if (_confine && (flags & 0x100010) == 0)
        {
            // MAP_32BIT without MAP_FIXED: the kernel ignores the hint and places below 2 GiB at a random offset.
            flags &= ~Map32Bit;
        }

        return _confine ? flags & ~UnmodelledMapBits : flags;
    }

    private ulong Offset() => _random.Next(10) switch
    {
        < 6 => (ulong)_random.Next(64) * Page,
        6 => (ulong)_random.Next(64) * Page + SubPage(),
        7 => (1UL << 63) - Page,
        8 => ulong.MaxValue - Page + 1,
        _ => RandomUlong() & MmConstants.PageMask,
    };

    private ulong AdviceValue() => _random.Next(10) switch
    {
        < 7 => (ulong)(int)Enum.GetValues<Advice>()[_random.Next(Enum.GetValues<Advice>().Length)],
        7 => (ulong)_random.Next(5, 8),
        8 => (ulong)_random.Next(26, 100),
        _ => (ulong)(uint)_random.Next(104, int.MaxValue),
    };

    private ulong MremapFlagBits()
    {
        ulong flags = (ulong)_random.Next(8);
        if (_random.Next(20) == 0)
        {
            flags |= RandomBits();
        }

        return _confine ? flags & ~MremapDontUnmap : flags;
    }

    private ulong BrkValue() => _random.Next(10) switch
    {
        < 6 => _startBrk + ((ulong)_random.Next(64) * Page) + (_random.Next(4) == 0 ? SubPage() : 0),
        6 => _startBrk - ((ulong)_random.Next(1, 4) * Page),
        7 => 0,
        _ => Address(),
    };

    /// <summary>
    /// Whether a call is safe to compare with the kernel: it fails the kernel's argument checks before looking at any
    /// VMA, or everything it may act on lies inside the zones and it maps no more than <see cref="MaxMapping"/>.
    /// </summary>
    private bool IsConfined(FuzzCall call)
    {
        ulong address = call.A0;
        ulong length = call.A1;
        switch (call.Kind)
        {
            case CallKind.Mmap:
            case CallKind.MmapFile:
                return MmapConfined(address, length, call.A3, call.Kind == CallKind.MmapFile ? call.A4 : 0);
            case CallKind.Munmap:
                return !IsPageAligned(address) || length == 0 || address > TaskSize || length > TaskSize - address
                    || _zones.Contains(address, AlignUp(length));
            case CallKind.Mprotect:
            case CallKind.Madvise:
                return !IsPageAligned(address) || length == 0 || AlignUp(length) == 0 || !ValidProtOrAdvice(call)
                    || address + AlignUp(length) <= address || _zones.Contains(address, AlignUp(length));
            case CallKind.Mlock:
            case CallKind.Munlock:
                {
                    ulong start = address & MmConstants.PageMask;
                    ulong aligned = AlignUp(length + (address - start));
                    return aligned == 0 || start + aligned < start || _zones.Contains(start, aligned);
                }

            case CallKind.Touch:
                return length == 0 || address + length - 1 < address
                    || _zones.Contains(address & MmConstants.PageMask, AlignUp((address & ~MmConstants.PageMask) + length));
            case CallKind.Fault:
                return _zones.Contains(address & MmConstants.PageMask, Page);
            case CallKind.Mremap:
                return MremapConfined(call);
            case CallKind.Brk:
                return call.A0 < _startBrk || call.A0 >= TaskSize || call.A0 - _startBrk <= MaxMapping;
            default:
                return true;
        }
    }

    /// <summary>Whether mprotect's bits or madvise's advice pass the kernel's checks (else EINVAL before any walk).</summary>
    private static bool ValidProtOrAdvice(FuzzCall call)
    {
        if (call.Kind == CallKind.Madvise)
        {
            return call.A2 <= int.MaxValue && Enum.IsDefined((Advice)(int)call.A2);
        }

        ulong bits = call.A2 & ~0x0300_0000UL;
        return (call.A2 & 0x0300_0000) != 0x0300_0000 && (bits & ~0xFUL) == 0;
    }

    private bool MmapConfined(ulong address, ulong length, ulong flags, ulong offset)
    {
        ulong aligned = AlignUp(length);
        if (length == 0 || aligned == 0 || aligned > TaskSize || !IsPageAligned(offset))
        {
            return true;
        }

        if (aligned > MaxMapping)
        {
            return false;
        }

        if ((flags & 0x100010) != 0)
        {
            return !IsPageAligned(address) || address > TaskSize - aligned || _zones.Contains(address, aligned);
        }

        ulong hint = address & MmConstants.PageMask;
        if (hint != 0 && hint < _mmapMinAddr)
        {
            hint = AlignUp(_mmapMinAddr);
        }

        return hint == 0 || hint > TaskSize - aligned || _zones.Contains(hint, aligned);
    }

    private bool MremapConfined(FuzzCall call)
    {
        ulong address = call.A0;
        ulong oldLength = AlignUp(call.A1);
        ulong newLength = AlignUp(call.A2);
        ulong flags = call.A3;
        bool fixedMove = (flags & 2) != 0;
        if ((flags & ~7UL) != 0 || (fixedMove && (flags & 1) == 0) || !IsPageAligned(address) || newLength == 0
            || call.A2 > TaskSize)
        {
            return true;
        }

        if (newLength > MaxMapping || !_zones.Contains(address, Math.Max(oldLength, Page)))
        {
            return false;
        }

        ulong target = call.A4;
        return fixedMove
            ? !IsPageAligned(target) || target > TaskSize - newLength || _zones.Contains(target, newLength)
            : _zones.Contains(address, newLength);
    }

    private static bool IsPageAligned(ulong value) => (value & ~MmConstants.PageMask) == 0;

    private static ulong AlignUp(ulong value) => (value + Page - 1) & MmConstants.PageMask;
}
