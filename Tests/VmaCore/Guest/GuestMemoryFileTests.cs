using System;
using System.IO;
using Microsoft.Win32.SafeHandles;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>File mappings of a backed space: a host file handle, mapped shared (stores reach the file) or private (copy on write).</summary>
public sealed class GuestMemoryFileTests
{
    private const Prot ReadWrite = Prot.Read | Prot.Write;
    private const int FilePages = 4;

    private string _path = string.Empty;

    [SetUp]
    public void CreateFile()
    {
        _path = Path.Combine(Path.GetTempPath(), $"guest-file-{Guid.NewGuid():N}");
        byte[] contents = new byte[FilePages * (int)Page];
        for (int page = 0; page < FilePages; page++)
        {
            contents[page * (int)Page] = (byte)(0xA0 + page);
        }

        File.WriteAllBytes(_path, contents);
    }

    [TearDown]
    public void DeleteFile() => File.Delete(_path);

    [Test]
    public void SharedFileMapping_ReadsTheFile_StoresReachTheFile()
    {
        using GuestMemory guest = Create(zeroPage: false);
        using SafeFileHandle handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
        using MappedFile file = FileRegistry.OpenHost("data", handle, canRead: true, canWrite: true);
        Assert.That(file.SizePages, Is.EqualTo((ulong)FilePages));

        Assert.That(guest.Mmap(At(0), 2 * Page, ReadWrite, MapFlags.Shared | MapFlags.Fixed, file, Page, out _), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, At(0)), Is.EqualTo(0xA1), "page 1 of the file at the mapping's start");
        Write(guest, At(1) + 3, 0x5D);
        Assert.That(FileByte(handle, (2 * Page) + 3), Is.EqualTo(0x5D), "the store reached file page 2");
    }

    [Test]
    public void TwoSharedMappingsOfOneFile_SeeEachOther_EvenAfterTheHandlesAreClosed()
    {
        using GuestMemory guest = Create();
        SafeFileHandle handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
        MappedFile file = FileRegistry.OpenHost("data", handle, canRead: true, canWrite: true);
        Assert.That(guest.Mmap(At(0), 4 * Page, ReadWrite, MapFlags.Shared | MapFlags.Fixed, file, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Mmap(At(16), 2 * Page, ReadWrite, MapFlags.Shared | MapFlags.Fixed, file, 2 * Page, out _), Is.EqualTo(Errno.None));
        file.Dispose();
        handle.Dispose();

        Write(guest, At(2) + 8, 0x66);
        Assert.That(Read(guest, At(16) + 8), Is.EqualTo(0x66), "the second mapping's page 0 is file page 2");
        Write(guest, At(17), 0x77);
        Assert.That(Read(guest, At(3)), Is.EqualTo(0x77));
        Assert.That(File.ReadAllBytes(_path)[3 * (int)Page], Is.EqualTo(0x77), "the file holds the store after the handles closed");
    }

    [Test]
    public void PrivateFileMapping_StoresNeverReachTheFile_DontNeedBringsTheFileBack()
    {
        using GuestMemory guest = Create();
        using SafeFileHandle handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read);
        using MappedFile file = FileRegistry.OpenHost("data", handle, canRead: true, canWrite: false);

        Assert.That(guest.Mmap(At(0), 4 * Page, ReadWrite, MapFlags.Private | MapFlags.Fixed, file, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(At(1), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Ok), "reads need no anon_vma");
        Assert.That(guest.Translate(At(1), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.FirstWrite));
        Assert.That(HostMaps.SharingAt(guest.HostAddressOf(At(1))), Is.EqualTo('p'));
        Assert.That(Read(guest, At(1)), Is.EqualTo(0xA1));
        Write(guest, At(1), 0x11);
        Assert.That(Read(guest, At(1)), Is.EqualTo(0x11), "the guest sees its private copy");
        Assert.That(FileByte(handle, Page), Is.EqualTo(0xA1), "the file is untouched");

        Assert.That(guest.Madvise(At(1), Page, DropAdvice.DontNeed), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, At(1)), Is.EqualTo(0xA1), "the dropped private copy gives way to the file");
    }

    [Test]
    public void PrivateFileMapping_MovedAndSplit_KeepsOffsetsAndCopies()
    {
        using GuestMemory guest = Create();
        using SafeFileHandle handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read);
        using MappedFile file = FileRegistry.OpenHost("data", handle, canRead: true, canWrite: false);
        Assert.That(guest.Mmap(At(0), 4 * Page, ReadWrite, MapFlags.Private | MapFlags.Fixed, file, 0, out _), Is.EqualTo(Errno.None));
        Write(guest, At(0) + 1, 0x21);

        Assert.That(guest.Mprotect(At(2), Page, Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(guest.Mremap(At(0), 4 * Page, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(32), out _), Is.EqualTo(Errno.EFAULT), "mremap may not span VMAs");
        Assert.That(guest.Mremap(At(3), Page, 2 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(40), out _), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, At(40)), Is.EqualTo(0xA3), "the moved page still maps file page 3");
        Assert.That(Read(guest, At(0) + 1), Is.EqualTo(0x21), "the private copy");
        Assert.That(Read(guest, At(2)), Is.EqualTo(0xA2), "the read-only part");
    }

    [Test]
    public void FileWithoutHostHandle_IsRefused()
    {
        using GuestMemory guest = Create();
        using MappedFile file = FileRegistry.OpenPrivate("model-only", 4, canRead: true, canWrite: true);
        Assert.Throws<ArgumentException>(() => guest.Mmap(At(0), Page, Prot.Read, MapFlags.Shared, file, 0, out _));
        Assert.That(guest.Space.MapCount, Is.EqualTo(0));
    }

    private static byte FileByte(SafeFileHandle handle, ulong offset)
    {
        byte[] one = new byte[1];
        Assert.That(RandomAccess.Read(handle, one, (long)offset), Is.EqualTo(1));
        return one[0];
    }
}
