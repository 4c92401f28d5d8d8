using NUnit.Framework;
using VmaEngine.Native;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>fork of a backed space: the child's own host memory, private pages copied, shared pages shared.</summary>
public sealed class GuestMemoryForkTests
{
    private const Prot ReadWrite = Prot.Read | Prot.Write;

    [Test]
    public void Fork_CopiesPrivateData_LaterStoresStayApart()
    {
        using GuestMemory parent = Create(zeroPage: false);
        MapReadWrite(parent, At(0), 4);
        Write(parent, At(1) + 2, 0x12);
        Write(parent, At(3), 0x34);

        Assert.That(parent.Fork(out GuestMemory? forked), Is.EqualTo(Errno.None));
        using GuestMemory child = forked!;
        Assert.That(child.HostBase, Is.Not.EqualTo(parent.HostBase), "the child has its own reservation");
        Assert.That(Read(child, At(1) + 2), Is.EqualTo(0x12));
        Assert.That(Read(child, At(3)), Is.EqualTo(0x34));
        Assert.That(Read(child, At(2)), Is.EqualTo(0), "a page the parent never touched is demand-zero");

        Write(child, At(1) + 2, 0x99);
        Write(parent, At(3), 0x88);
        Assert.That(Read(parent, At(1) + 2), Is.EqualTo(0x12), "the child's store is its own");
        Assert.That(Read(child, At(3)), Is.EqualTo(0x34), "the parent's store is its own");
    }

    [Test]
    public void Fork_CopiesOnlyResidentPages_EvenUnreadableOnes()
    {
        using GuestMemory parent = Create();
        MapReadWrite(parent, At(0), 64);
        Write(parent, At(5), 0x55);
        Write(parent, At(40) + 100, 0x44);
        Assert.That(parent.Mprotect(At(40), Page, Prot.None), Is.EqualTo(Errno.None));

        Assert.That(parent.Fork(out GuestMemory? forked), Is.EqualTo(Errno.None));
        using GuestMemory child = forked!;
        byte[] resident = new byte[64];
        HostMapping.GetResidentPages(child.HostAddressOf(At(0)), (nuint)(64 * Page), resident);
        for (int page = 0; page < 64; page++)
        {
            Assert.That(resident[page] & 1, Is.EqualTo(page is 5 or 40 ? 1 : 0), $"page {page}: only the parent's resident pages are copied");
        }

        Assert.That(HostMaps.PermissionsAt(child.HostAddressOf(At(40))), Is.EqualTo("---"));
        Assert.That(child.Mprotect(At(40), Page, Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(Read(child, At(40) + 100), Is.EqualTo(0x44), "the PROT_NONE page was copied");
        Assert.That(Read(child, At(5)), Is.EqualTo(0x55));
    }

    [Test]
    public void Fork_SharedAnonymousStaysShared()
    {
        using GuestMemory parent = Create();
        Assert.That(parent.Mmap(At(0), 2 * Page, ReadWrite, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Write(parent, At(0), 0x01);

        Assert.That(parent.Fork(out GuestMemory? forked), Is.EqualTo(Errno.None));
        using GuestMemory child = forked!;
        Assert.That(Read(child, At(0)), Is.EqualTo(0x01));
        Write(child, At(1), 0x02);
        Assert.That(Read(parent, At(1)), Is.EqualTo(0x02), "the parent sees the child's store");
        Write(parent, At(0), 0x03);
        Assert.That(Read(child, At(0)), Is.EqualTo(0x03), "the child sees the parent's store");
    }

    [Test]
    public void Fork_ChildOutlivesParent_SharedObjectLivesOn()
    {
        GuestMemory parent = Create();
        Assert.That(parent.Mmap(At(0), Page, ReadWrite, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Write(parent, At(0), 0x0F);
        Assert.That(parent.Fork(out GuestMemory? forked), Is.EqualTo(Errno.None));
        using GuestMemory child = forked!;
        parent.Dispose();

        Assert.That(Read(child, At(0)), Is.EqualTo(0x0F));
        Assert.That(child.Mremap(At(0), 0, Page, MremapFlags.MayMove | MremapFlags.Fixed, At(4), out _), Is.EqualTo(Errno.None), "the object's memfd is still open");
        Write(child, At(4), 0x1F);
        Assert.That(Read(child, At(0)), Is.EqualTo(0x1F));
    }

    [Test]
    public void Fork_DontForkIsAbsent_WipeOnForkIsZero()
    {
        using GuestMemory parent = Create();
        MapReadWrite(parent, At(0), 1);
        MapReadWrite(parent, At(2), 1);
        Write(parent, At(0), 0x0A);
        Write(parent, At(2), 0x0B);
        Assert.That(parent.Madvise(At(0), Page, Advice.DontFork), Is.EqualTo(Errno.None));
        Assert.That(parent.Madvise(At(2), Page, Advice.WipeOnFork), Is.EqualTo(Errno.None));

        Assert.That(parent.Fork(out GuestMemory? forked), Is.EqualTo(Errno.None));
        using GuestMemory child = forked!;
        Assert.That(child.Translate(At(0), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(HostMaps.PermissionsAt(child.HostAddressOf(At(0))), Is.EqualTo("---"));
        Assert.That(Read(child, At(2)), Is.EqualTo(0), "wiped");
        Assert.That(Read(parent, At(2)), Is.EqualTo(0x0B));
    }

    [Test]
    public void Fork_HostFailureAtEachCall_ChildGone_ParentIntact()
    {
        using GuestMemory parent = Create();
        MapReadWrite(parent, At(0), 4);
        Write(parent, At(1), 0x61);
        Assert.That(parent.Mmap(At(8), Page, ReadWrite, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Write(parent, At(8), 0x62);
        int mapCount = parent.Space.MapCount;

        for (int failAt = 0; ; failAt++)
        {
            parent.HostCalls.FailAfter = failAt;
            Errno error = parent.Fork(out GuestMemory? child);
            bool injected = parent.HostCalls.FailAfter < 0;
            parent.HostCalls.FailAfter = -1;
            if (!injected)
            {
                Assert.That(error, Is.EqualTo(Errno.None), $"fail after {failAt}");
                using (child)
                {
                    Assert.That(Read(child!, At(1)), Is.EqualTo(0x61));
                }

                Assert.That(failAt, Is.GreaterThan(2), "the fork made several host calls");
                break;
            }

            Assert.That(error, Is.EqualTo(Errno.ENOMEM), $"fail after {failAt}");
            Assert.That(child, Is.Null);
            Assert.That(parent.Space.MapCount, Is.EqualTo(mapCount));
            Assert.That(Read(parent, At(1)), Is.EqualTo(0x61));
            Assert.That(Read(parent, At(8)), Is.EqualTo(0x62));
        }
    }
}
