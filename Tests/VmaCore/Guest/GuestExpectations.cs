using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// What a backed space must show, worked out from the engine's VMAs (<see cref="AddressSpace.Snapshot"/>), its
/// guard markers and the sizes of the shared objects the tests mapped, and the checks that compare it page by page
/// with <see cref="GuestMemory.Translate"/> and with the host's own <c>/proc/self/maps</c>.
/// </summary>
internal sealed class GuestExpectations
{
    /// <summary>The size in pages of each shared anonymous object the tests mapped, by <see cref="VmaInfo.FileId"/> (unique in the process).</summary>
    private static readonly ConcurrentDictionary<int, ulong> s_objectPages = new();

    private readonly IReadOnlyList<VmaInfo> _vmas;
    private readonly (ulong Start, ulong End)[] _guards;
    private readonly bool _zeroPage;

    /// <summary>The expectations of <paramref name="guest"/> as it is now, on a profile with or without the zero page.</summary>
    public GuestExpectations(GuestMemory guest, bool zeroPage)
    {
        _vmas = guest.Space.Snapshot();
        _guards = guest.Space.GuardPages.ToArray();
        _zeroPage = zeroPage;
    }

    /// <summary>Records that the shared anonymous mapping at <paramref name="address"/> maps a new object of <paramref name="pages"/> pages.</summary>
    public static void RecordSharedObject(GuestMemory guest, ulong address, ulong pages)
    {
        Assert.That(guest.Space.TryGetVma(address, out VmaInfo vma), Is.True, $"a shared mapping at {address:x}");
        s_objectPages[vma.FileId] = pages;
    }

    /// <summary>Every page of [<paramref name="start"/>, +<paramref name="pages"/>) translates as the engine says, for every access.</summary>
    public static void CheckTable(GuestMemory guest, bool zeroPage, string context, ulong start, int pages)
    {
        var expected = new GuestExpectations(guest, zeroPage);
        for (int page = 0; page < pages; page++)
        {
            ulong address = start + ((ulong)page * Page);
            foreach (FaultAccess access in Enum.GetValues<FaultAccess>())
            {
                TranslateStatus status = guest.Translate(address + 17, access, out nint host);
                Assert.That(status, Is.EqualTo(expected.Translation(address, access)), $"{context}: page {page} {access}");
                Assert.That(host, Is.EqualTo(status == TranslateStatus.Ok ? guest.HostAddressOf(address + 17) : 0), $"{context}: page {page} host address");
            }
        }
    }

    /// <summary>
    /// Every host page of [<paramref name="start"/>, +<paramref name="pages"/>) has the protection the mapping
    /// function gives what the guest may do there without a fault (nothing on a guard page).
    /// </summary>
    public static void CheckHostMaps(GuestMemory guest, bool zeroPage, string context, ulong start, int pages)
    {
        var expected = new GuestExpectations(guest, zeroPage);
        string[] host = HostMaps.Permissions(guest.HostAddressOf(start), pages);
        for (int page = 0; page < pages; page++)
        {
            ulong address = start + ((ulong)page * Page);
            Prot rights = Prot.None;
            foreach (FaultAccess access in Enum.GetValues<FaultAccess>())
            {
                rights |= expected.Translation(address, access) == TranslateStatus.Ok ? RightOf(access) : Prot.None;
            }

            Assert.That(host[page], Is.EqualTo(HostMaps.Letters(guest.HostProtectionOf(rights))), $"{context}: host page {page}");
        }
    }

    /// <summary>
    /// The table never allows more than the host: on every page of [<paramref name="start"/>, +<paramref name="pages"/>),
    /// each access <see cref="GuestMemory.Translate"/> allows is one the host's protection allows (whatever the engine says).
    /// </summary>
    public static void CheckTableWithinHost(GuestMemory guest, string context, ulong start, int pages)
    {
        string[] host = HostMaps.Permissions(guest.HostAddressOf(start), pages);
        for (int page = 0; page < pages; page++)
        {
            Prot allowed = Prot.None;
            foreach (FaultAccess access in Enum.GetValues<FaultAccess>())
            {
                ulong address = start + ((ulong)page * Page);
                allowed |= guest.Translate(address, access, out _) == TranslateStatus.Ok ? RightOf(access) : Prot.None;
            }

            string letters = HostMaps.Letters(guest.HostProtectionOf(allowed));
            for (int i = 0; i < letters.Length; i++)
            {
                Assert.That(letters[i] == '-' || host[page][i] == letters[i], $"{context}: page {page} allows {letters} in the table, {host[page]} on the host");
            }
        }
    }

    /// <summary>
    /// What Translate must say for <paramref name="access"/> to the page at <paramref name="address"/>: unmapped in
    /// a hole (a guard gap below a stack) or on a guard page, not permitted where the VMA refuses the access or past the end of its shared
    /// object (SIGBUS), a first write where a private VMA has no anon_vma yet (any first access to private anonymous
    /// memory without the zero page).
    /// </summary>
    public TranslateStatus Translation(ulong address, FaultAccess access)
    {
        ulong page = address & ~(Page - 1);
        if (Find(page) is not { } vma)
        {
            return IsBelowStack(page) ? TranslateStatus.GuardGap : TranslateStatus.Unmapped;
        }

        if (IsGuarded(page))
        {
            return TranslateStatus.Unmapped;
        }

        VmFlags flags = vma.Flags;
        bool allowed = access switch
        {
            FaultAccess.Write => (flags & VmFlags.Write) != 0,
            FaultAccess.Execute => (flags & VmFlags.Exec) != 0,
            _ => (flags & (VmFlags.Read | VmFlags.Write | VmFlags.Exec)) != 0,
        };
        bool pastObjectEnd = s_objectPages.TryGetValue(vma.FileId, out ulong objectPages)
            && vma.Pgoff + ((page - vma.Start) / Page) >= objectPages;
        if (!allowed || pastObjectEnd)
        {
            return TranslateStatus.NotPermitted;
        }

        bool needsAnonVma = vma.AnonVmaId == 0 && (flags & VmFlags.Shared) == 0
            && (access == FaultAccess.Write || (!_zeroPage && vma.Backing == VmaBacking.Anonymous));
        return needsAnonVma ? TranslateStatus.FirstWrite : TranslateStatus.Ok;
    }

    private static Prot RightOf(FaultAccess access) => access switch
    {
        FaultAccess.Write => Prot.Write,
        FaultAccess.Execute => Prot.Exec,
        _ => Prot.Read,
    };

    private VmaInfo? Find(ulong address)
    {
        foreach (VmaInfo vma in _vmas)
        {
            if (vma.Start <= address && address < vma.End)
            {
                return vma;
            }
        }

        return null;
    }

    /// <summary>Whether the first VMA above the hole at <paramref name="page"/> is a stack (<c>VM_GROWSDOWN</c>), which a fault may grow down to it.</summary>
    private bool IsBelowStack(ulong page)
    {
        foreach (VmaInfo vma in _vmas)
        {
            if (vma.Start > page)
            {
                return (vma.Flags & VmFlags.GrowsDown) != 0;
            }
        }

        return false;
    }

    private bool IsGuarded(ulong page)
    {
        foreach ((ulong start, ulong end) in _guards)
        {
            if (start <= page && page < end)
            {
                return true;
            }
        }

        return false;
    }
}
