using System;
using System.IO;
using System.Linq;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;

namespace Tests;

/// <summary>The host examples of README.md: they compile and behave as the README says, and the README shows this very code.</summary>
[TestFixture]
public unsafe class ReadmeExampleTests
{
    private const string HostExample = "// README example";
    private const string GuestLoopExample = "// README guest loop";

    [Test]
    public void ExampleRunsAsDescribed()
    {
        var console = new StringWriter();
        TextWriter saved = Console.Out;
        Console.SetOut(console);
        try
        {
            // README example: begin
            using var space = new AddressSpace();

            // A guest's mmap: 16 pages of private anonymous memory, placed by the engine (top-down, as Linux does).
            Errno error = space.Mmap(0, 16 * 4096, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous, out ulong heap);

            // mprotect of the middle splits the VMA in three, exactly as the kernel would.
            error = space.Mprotect(heap + 4 * 4096, 4 * 4096, Prot.Read);
            Console.WriteLine($"{error}: {space.MapCount} VMAs");

            // A vCPU's page fault: the per-VMA lock first, mmap_lock only as a fallback.
            FaultResult fault = space.Fault(heap + 5 * 4096, FaultAccess.Write);
            Console.WriteLine(fault);    // SegvAccErr: the page is read-only now

            // Back to read-write: the three VMAs merge again.
            space.Mprotect(heap + 4 * 4096, 4 * 4096, Prot.Read | Prot.Write);
            Console.Write(space.FormatMaps());    // /proc/pid/maps lines with their smaps VmFlags

            // Hosts that avoid unsafe code: a copy of the VMA at an address, or the VMA held read-locked while in use.
            if (space.TryGetVma(heap, out VmaInfo info))
            {
                Console.WriteLine(info);    // 0x7effffff0000-0x7f0000000000 rw-p pgoff 0x7effffff0 Anonymous
            }

            using (VmaReadLock vma = space.ReadLockVma(heap + 5 * 4096))
            {
                // No munmap, mprotect or mremap can change the VMA until the guard is disposed.
                Console.WriteLine(vma.HasValue && (vma.Flags & VmFlags.Write) != 0);    // True
            }
            // README example: end

            Assert.That(error, Is.EqualTo(Errno.None));
            Assert.That(fault, Is.EqualTo(FaultResult.SegvAccErr));
            Assert.That(space.MapCount, Is.EqualTo(1));
        }
        finally
        {
            Console.SetOut(saved);
        }

        string[] printed = console.ToString().Split('\n');
        Assert.That(printed[0], Is.EqualTo("None: 3 VMAs"));
        Assert.That(printed[1], Is.EqualTo("SegvAccErr"));
        Assert.That(printed[2], Does.Contain(" rw-p 00000000 00:00 0"));
        Assert.That(printed[3], Does.StartWith("VmFlags: rd wr mr mw me ac"));
        Assert.That(printed[4], Does.Match("^0x7[0-9a-f]+-0x7[0-9a-f]+ rw-p pgoff 0x7[0-9a-f]+ Anonymous$"));
        Assert.That(printed[5], Is.EqualTo("True"));
    }

    [Test]
    public void GuestLoopRunsAsDescribed()
    {
        var console = new StringWriter();
        TextWriter saved = Console.Out;
        Console.SetOut(console);
        try
        {
            // README guest loop: begin
            // One host reservation behind the guest range [low, high); the engine's layout must lie inside it.
            const ulong low = 0x10_0000_0000, high = low + (1UL << 30);
            var options = new AddressSpaceOptions { MmapMinAddr = low, StartBrk = low, TaskSize = high, MmapBase = high };
            using var guest = new GuestMemory(low, high, options);
            guest.Mmap(0, 64 * 4096, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous, out ulong buffer);

            // A guest load or store: a lock-free table hit, or the guest's page fault first and the table again.
            ulong* Word(ulong address, FaultAccess access)
            {
                nint host;
                while (guest.Translate(address, access, out host) != TranslateStatus.Ok)
                {
                    if (guest.Fault(address, access) != FaultResult.Ok)
                    {
                        throw new InvalidOperationException($"SIGSEGV at {address:x}");    // the host delivers it to the guest
                    }
                }

                return (ulong*)host;
            }

            // The guest's loop: store i in each of the 32,768 words of 256 KiB, then add them up.
            for (ulong i = 0; i < 64 * 512; i++)
            {
                *Word(buffer + (i * 8), FaultAccess.Write) = i;    // the first store faults once: the VMA gets its anon_vma
            }

            ulong sum = 0;
            for (ulong i = 0; i < 64 * 512; i++)
            {
                sum += *Word(buffer + (i * 8), FaultAccess.Read);
            }

            Console.WriteLine(sum);    // 536854528
            guest.Mprotect(buffer, 64 * 4096, Prot.Read);
            Console.WriteLine(guest.Translate(buffer, FaultAccess.Write, out _));    // NotPermitted, and the host page is read-only
            Console.WriteLine(guest.TranslationTableBytes);    // a few KiB: one leaf of 512 entries, the run map
            // README guest loop: end

            Assert.That(guest.Space.MapCount, Is.EqualTo(1));
            Assert.That(guest.Space.Snapshot()[0].AnonVmaId, Is.Not.EqualTo((nuint)0));
        }
        finally
        {
            Console.SetOut(saved);
        }

        string[] printed = console.ToString().Split('\n');
        Assert.That(printed[0], Is.EqualTo("536854528"));
        Assert.That(printed[1], Is.EqualTo("NotPermitted"));
        Assert.That(ulong.Parse(printed[2], System.Globalization.CultureInfo.InvariantCulture), Is.InRange(4096UL, 16384UL));
    }

    [TestCase(HostExample)]
    [TestCase(GuestLoopExample)]
    public void ReadmeShowsTheTestedCode(string marker)
    {
        string begin = marker + ": begin";
        string end = marker + ": end";
        string root = TestContext.CurrentContext.TestDirectory;
        while (!File.Exists(Path.Combine(root, "README.md")))
        {
            root = Path.GetDirectoryName(root) ?? throw new FileNotFoundException("README.md not found above the tests");
        }

        string thisFile = File.ReadAllText(Path.Combine(root, "Tests", "ReadmeExampleTests.cs"));
        string tested = thisFile[(thisFile.IndexOf(begin, StringComparison.Ordinal) + begin.Length)..thisFile.IndexOf(end, StringComparison.Ordinal)];
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        Assert.That(Normalize(readme), Does.Contain(Normalize(tested)), $"README.md's example '{marker}' differs from the tested code");
    }

    private static string Normalize(string code) =>
        string.Join('\n', code.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0));
}
