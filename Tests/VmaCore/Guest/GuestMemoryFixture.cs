using VmaEngine.Vma;
using VmaEngine.Vma.Guest;

namespace Tests.VmaCore.Guest;

/// <summary>Backed spaces for the guest-memory tests: a 1 GiB guest range at 64 GiB.</summary>
internal static class GuestMemoryFixture
{
    /// <summary>The first backed guest address.</summary>
    public const ulong Low = 0x10_0000_0000;

    /// <summary>The end of the backed guest range.</summary>
    public const ulong High = Low + (1UL << 30);

    /// <summary>The bytes of a page.</summary>
    public const ulong Page = 4096;

    /// <summary>Where the tests place fixed mappings.</summary>
    public const ulong Window = Low + (256UL << 20);

    /// <summary>A backed space over [<see cref="Low"/>, <see cref="High"/>); <paramref name="zeroPage"/> chooses the profile's zero page.</summary>
    public static GuestMemory Create(bool zeroPage = true, System.Func<Prot, VmaEngine.Native.HostProtection>? hostProtection = null) =>
        new(Low, High, OptionsFor(zeroPage), hostProtection);

    /// <summary>Engine options whose mappings all fall in the backed range.</summary>
    public static AddressSpaceOptions OptionsFor(bool zeroPage) => new()
    {
        MmapMinAddr = Low,
        TaskSize = High,
        MmapBase = High - (64UL << 20),
        StartBrk = Low + (16UL << 20),
        ZeroPage = zeroPage,
    };

    /// <summary>The address of page <paramref name="page"/> of the window.</summary>
    public static ulong At(int page) => Window + ((ulong)page * Page);
}
