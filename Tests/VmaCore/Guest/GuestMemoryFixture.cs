using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;

namespace Tests.VmaCore.Guest;

/// <summary>
/// Backed spaces for the guest-memory tests (a 1 GiB guest range at 64 GiB), and the guest's own accesses:
/// mappings, and bytes written and read through <see cref="GuestMemory.Translate"/> as a guest would.
/// </summary>
internal static unsafe class GuestMemoryFixture
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

    /// <summary>Maps <paramref name="pages"/> private anonymous pages at <paramref name="address"/>.</summary>
    internal static void MapReadWrite(GuestMemory guest, ulong address, int pages, Prot prot = Prot.Read | Prot.Write)
    {
        Errno error = guest.Mmap(address, (ulong)pages * Page, prot, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, out ulong mapped);
        Assert.That(error, Is.EqualTo(Errno.None));
        Assert.That(mapped, Is.EqualTo(address));
    }

    /// <summary>Writes a byte as a guest would: Translate, and Fault first when it asks for one.</summary>
    internal static void Write(GuestMemory guest, ulong address, byte value)
    {
        *(byte*)HostOf(guest, address, FaultAccess.Write) = value;
    }

    /// <summary>Reads a byte as a guest would.</summary>
    internal static byte Read(GuestMemory guest, ulong address) => *(byte*)HostOf(guest, address, FaultAccess.Read);

    private static nint HostOf(GuestMemory guest, ulong address, FaultAccess access)
    {
        TranslateStatus status = guest.Translate(address, access, out nint host);
        if (status != TranslateStatus.Ok)
        {
            Assert.That(guest.Fault(address, access), Is.EqualTo(FaultResult.Ok), $"fault at {address:x} after {status}");
            Assert.That(guest.Translate(address, access, out host), Is.EqualTo(TranslateStatus.Ok), $"translate at {address:x} after the fault");
        }

        Assert.That(host, Is.EqualTo(guest.HostAddressOf(address)));
        return host;
    }
}
