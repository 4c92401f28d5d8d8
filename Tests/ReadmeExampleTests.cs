using System;
using System.IO;
using System.Linq;
using NUnit.Framework;
using VmaEngine.Vma;

namespace Tests;

/// <summary>The host example of README.md: it compiles and behaves as the README says, and the README shows this very code.</summary>
[TestFixture]
public class ReadmeExampleTests
{
    private const string Begin = "// README example: begin";
    private const string End = "// README example: end";

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
    public void ReadmeShowsTheTestedCode()
    {
        string root = TestContext.CurrentContext.TestDirectory;
        while (!File.Exists(Path.Combine(root, "README.md")))
        {
            root = Path.GetDirectoryName(root) ?? throw new FileNotFoundException("README.md not found above the tests");
        }

        string thisFile = File.ReadAllText(Path.Combine(root, "Tests", "ReadmeExampleTests.cs"));
        string tested = thisFile[(thisFile.LastIndexOf(Begin, StringComparison.Ordinal) + Begin.Length)..thisFile.LastIndexOf(End, StringComparison.Ordinal)];
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        Assert.That(Normalize(readme), Does.Contain(Normalize(tested)), "README.md's host example differs from the tested code");
    }

    private static string Normalize(string code) =>
        string.Join('\n', code.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0));
}
