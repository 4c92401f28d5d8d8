using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// Each syscall's argument checks and error returns, and allocation failure injected at every allocation point of
/// every syscall: the mm (normalized snapshot, map count, VMA slab objects) is unchanged afterwards, except for the
/// partial effects the kernel itself leaves, which are asserted exactly.
/// </summary>
public sealed class SyscallErrorTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const MapFlags SharedFixed = MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed;

    private FileRegistry _files = null!;

    [SetUp]
    public void SetUp() => _files = new FileRegistry();

    [TearDown]
    public void TearDown() => _files.Dispose();

    /// <summary>
    /// The layout every case starts from: 0-8 rw touched | 8-12 r | 12-16 shared anon | 20-28 file private rw |
    /// 50-54 rw locked | 400-404 growsdown rw.
    /// </summary>
    private AddressSpace Setup(AddressSpaceOptions? options = null)
    {
        var space = new AddressSpace(options ?? new AddressSpaceOptions());
        MappedFile file = _files.Open("data", 262144);
        Ok(space.Mmap(P(0), L(8), Rw, AnonFixed, out _));
        Ok(space.Touch(P(0), L(8)));
        Ok(space.Mmap(P(8), L(4), Prot.Read, AnonFixed, out _));
        Ok(space.Mmap(P(12), L(4), Rw, SharedFixed, out _));
        Ok(space.Mmap(P(20), L(8), Rw, MapFlags.Private | MapFlags.Fixed, file, L(100), out _));
        Ok(space.Mmap(P(50), L(4), Rw, AnonFixed | MapFlags.Locked, out _));
        Ok(space.Mmap(P(400), L(4), Rw, AnonFixed | MapFlags.GrowsDown, out _));
        return space;
    }

    private static void Ok(Errno errno) => Assert.That(errno, Is.EqualTo(Errno.None));

    private static IEnumerable<TestCaseData> RejectedArguments()
    {
        static TestCaseData Case(string name, Errno expected, Func<AddressSpace, MappedFile, Errno> call) =>
            new TestCaseData(expected, call).SetName(name);

        ulong task = MmConstants.TaskSize;
        yield return Case("mmap length 0", Errno.EINVAL, (s, f) => s.Mmap(P(60), 0, Rw, AnonFixed, out _));
        yield return Case("mmap length wraps", Errno.ENOMEM, (s, f) => s.Mmap(P(60), ulong.MaxValue - 10, Rw, AnonFixed, out _));
        yield return Case("mmap fixed unaligned", Errno.EINVAL, (s, f) => s.Mmap(P(60) + 1, L(1), Rw, AnonFixed, out _));
        yield return Case("mmap fixed beyond TASK_SIZE", Errno.ENOMEM, (s, f) => s.Mmap(task - L(1), L(2), Rw, AnonFixed, out _));
        yield return Case("mmap longer than TASK_SIZE", Errno.ENOMEM, (s, f) => s.Mmap(0, task + L(1), Rw, MapFlags.Private | MapFlags.Anonymous, out _));
        yield return Case("mmap below mmap_min_addr", Errno.EPERM, (s, f) => s.Mmap(L(1), L(1), Rw, AnonFixed, out _));
        yield return Case("mmap fixed_noreplace over a VMA", Errno.EEXIST, (s, f) => s.Mmap(P(2), L(1), Rw, MapFlags.Private | MapFlags.Anonymous | MapFlags.FixedNoReplace, out _));
        yield return Case("mmap neither shared nor private", Errno.EINVAL, (s, f) => s.Mmap(P(60), L(1), Rw, MapFlags.Anonymous | MapFlags.Fixed, out _));
        yield return Case("mmap shared growsdown", Errno.EINVAL, (s, f) => s.Mmap(P(60), L(1), Rw, SharedFixed | MapFlags.GrowsDown, out _));
        yield return Case("mmap without MAP_ANONYMOUS nor file", Errno.EBADF, (s, f) => s.Mmap(P(60), L(1), Rw, MapFlags.Private | MapFlags.Fixed, out _));
        yield return Case("mmap file offset unaligned", Errno.EINVAL, (s, f) => s.Mmap(P(60), L(1), Rw, MapFlags.Private | MapFlags.Fixed, f, 5, out _));
        yield return Case("mmap file growsdown", Errno.EINVAL, (s, f) => s.Mmap(P(60), L(1), Rw, MapFlags.Private | MapFlags.Fixed | MapFlags.GrowsDown, f, 0, out _));
        yield return Case("munmap unaligned", Errno.EINVAL, (s, f) => s.Munmap(P(1) + 8, L(1)));
        yield return Case("munmap length 0", Errno.EINVAL, (s, f) => s.Munmap(P(1), 0));
        yield return Case("munmap beyond TASK_SIZE", Errno.EINVAL, (s, f) => s.Munmap(task - L(1), L(2)));
        yield return Case("mprotect unaligned", Errno.EINVAL, (s, f) => s.Mprotect(P(1) + 1, L(1), Prot.Read));
        yield return Case("mprotect unknown bits", Errno.EINVAL, (s, f) => s.Mprotect(P(1), L(1), (Prot)0x40));
        yield return Case("mprotect both grows bits", Errno.EINVAL, (s, f) => s.Mprotect(P(1), L(1), Prot.Read | Prot.GrowsDown | Prot.GrowsUp));
        yield return Case("mprotect growsdown on a plain VMA", Errno.EINVAL, (s, f) => s.Mprotect(P(1), L(1), Prot.Read | Prot.GrowsDown));
        yield return Case("mprotect wraps", Errno.ENOMEM, (s, f) => s.Mprotect(P(1), ulong.MaxValue - L(1), Prot.Read));
        yield return Case("mprotect hole", Errno.ENOMEM, (s, f) => s.Mprotect(P(16), L(2), Prot.Read));
        yield return Case("mprotect starts in hole", Errno.ENOMEM, (s, f) => s.Mprotect(P(17), L(4), Prot.Read));
        yield return Case("madvise unknown advice", Errno.EINVAL, (s, f) => s.Madvise(P(0), L(1), (Advice)99));
        yield return Case("madvise unaligned", Errno.EINVAL, (s, f) => s.Madvise(P(0) + 1, L(1), Advice.DontFork));
        yield return Case("madvise wraps", Errno.EINVAL, (s, f) => s.Madvise(P(0), ulong.MaxValue, Advice.DontFork));
        yield return Case("madvise hole only", Errno.ENOMEM, (s, f) => s.Madvise(P(30), L(2), Advice.DontFork));
        yield return Case("madvise wipeonfork on shared", Errno.EINVAL, (s, f) => s.Madvise(P(12), L(2), Advice.WipeOnFork));
        yield return Case("madvise wipeonfork on file", Errno.EINVAL, (s, f) => s.Madvise(P(20), L(2), Advice.WipeOnFork));
        yield return Case("mlock wraps", Errno.EINVAL, (s, f) => s.Mlock(P(0), ulong.MaxValue - L(1)));
        yield return Case("mlock hole", Errno.ENOMEM, (s, f) => s.Mlock(P(30), L(1)));
        yield return Case("munlock hole", Errno.ENOMEM, (s, f) => s.Munlock(P(30), L(1)));
        yield return Case("mremap unknown flags", Errno.EINVAL, (s, f) => s.Mremap(P(0), L(1), L(2), (MremapFlags)8, 0, out _));
        yield return Case("mremap fixed without maymove", Errno.EINVAL, (s, f) => s.Mremap(P(0), L(1), L(1), MremapFlags.Fixed, P(60), out _));
        yield return Case("mremap dontunmap without maymove", Errno.EINVAL, (s, f) => s.Mremap(P(0), L(1), L(1), MremapFlags.DontUnmap, 0, out _));
        yield return Case("mremap dontunmap resizing", Errno.EINVAL, (s, f) => s.Mremap(P(0), L(1), L(2), MremapFlags.MayMove | MremapFlags.DontUnmap, 0, out _));
        yield return Case("mremap unaligned", Errno.EINVAL, (s, f) => s.Mremap(P(0) + 1, L(1), L(2), MremapFlags.None, 0, out _));
        yield return Case("mremap new length 0", Errno.EINVAL, (s, f) => s.Mremap(P(0), L(1), 0, MremapFlags.None, 0, out _));
        yield return Case("mremap unmapped", Errno.EFAULT, (s, f) => s.Mremap(P(30), L(1), L(2), MremapFlags.None, 0, out _));
        yield return Case("mremap across VMA end", Errno.EFAULT, (s, f) => s.Mremap(P(6), L(4), L(8), MremapFlags.MayMove, 0, out _));
        yield return Case("mremap grow blocked", Errno.ENOMEM, (s, f) => s.Mremap(P(0), L(8), L(9), MremapFlags.None, 0, out _));
        yield return Case("mremap grow not at VMA end", Errno.ENOMEM, (s, f) => s.Mremap(P(0), L(4), L(5), MremapFlags.None, 0, out _));
        yield return Case("mremap fixed overlapping", Errno.EINVAL, (s, f) => s.Mremap(P(0), L(4), L(4), MremapFlags.MayMove | MremapFlags.Fixed, P(2), out _));
        yield return Case("mremap fixed unaligned target", Errno.EINVAL, (s, f) => s.Mremap(P(0), L(4), L(4), MremapFlags.MayMove | MremapFlags.Fixed, P(60) + 1, out _));
        yield return Case("mremap private old length 0", Errno.EINVAL, (s, f) => s.Mremap(P(0), 0, L(4), MremapFlags.MayMove, 0, out _));
        yield return Case("anon name invalid char", Errno.EINVAL, (s, f) => s.SetAnonName(P(0), L(1), "a$b"));
        yield return Case("anon name non-ASCII", Errno.EINVAL, (s, f) => s.SetAnonName(P(0), L(1), "é"));
        yield return Case("anon name too long", Errno.EINVAL, (s, f) => s.SetAnonName(P(0), L(1), new string('n', 80)));
        yield return Case("anon name unaligned", Errno.EINVAL, (s, f) => s.SetAnonName(P(0) + 1, L(1), "n"));
        yield return Case("anon name on file", Errno.EBADF, (s, f) => s.SetAnonName(P(20), L(1), "n"));
        yield return Case("anon name hole", Errno.ENOMEM, (s, f) => s.SetAnonName(P(30), L(1), "n"));
        yield return Case("touch unmapped", Errno.EFAULT, (s, f) => s.Touch(P(30), L(1)));
        yield return Case("touch read-only", Errno.EFAULT, (s, f) => s.Touch(P(8), L(1)));
        yield return Case("touch wraps", Errno.EFAULT, (s, f) => s.Touch(ulong.MaxValue - 10, 20));
        yield return Case("brk below start", Errno.ENOMEM, (s, f) => s.Brk(1, out _));
    }

    [TestCaseSource(nameof(RejectedArguments))]
    public void RejectedCall_ReturnsErrno_AndChangesNothing(Errno expected, Func<AddressSpace, MappedFile, Errno> call)
    {
        using AddressSpace space = Setup();
        List<VmaInfo> before = Snapshots.Normalized(space);
        long activeBefore = Snapshots.ActiveVmas();
        Assert.That(call(space, _files.Open("data", 262144)), Is.EqualTo(expected));
        Assert.That(Snapshots.Text(Snapshots.Normalized(space)), Is.EqualTo(Snapshots.Text(before)));
        Assert.That(space.MapCount, Is.EqualTo(before.Count));
        Assert.That(Snapshots.ActiveVmas(), Is.EqualTo(activeBefore));
    }

    [Test]
    public void ZeroLengthRangeOps_Succeed_AndChangeNothing()
    {
        using AddressSpace space = Setup();
        string before = Of(space);
        Assert.That(space.Mprotect(P(30), 0, Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(space.Madvise(P(30), 0, Advice.DontFork), Is.EqualTo(Errno.None));
        Assert.That(space.Mlock(P(30), 0), Is.EqualTo(Errno.None));
        Assert.That(space.Munlock(P(30), 0), Is.EqualTo(Errno.None));
        Assert.That(space.Touch(P(30), 0), Is.EqualTo(Errno.None));
        Assert.That(space.SetAnonName(P(30), 0, "n"), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo(before));
    }

    [Test]
    public void MaxMapCount_IsEnforced()
    {
        using var space = new AddressSpace(new AddressSpaceOptions { MaxMapCount = 3 });
        for (ulong i = 0; i < 4; i++)
        {
            Ok(space.Mmap(P(i * 2), L(1), i % 2 == 0 ? Prot.Read : Rw, AnonFixed, out _));
        }

        Assert.That(space.Mmap(P(20), L(1), Prot.Read, AnonFixed, out _), Is.EqualTo(Errno.ENOMEM), "map_count > max");
        Assert.That(space.Munmap(P(0), L(1)), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(P(2), L(1), Prot.Read), Is.EqualTo(Errno.None));
        Ok(space.Mmap(P(10), L(3), Rw, AnonFixed, out _));
        Assert.That(space.MapCount, Is.EqualTo(4), "mmap checks map_count > max, so the count may reach max + 1");
        Assert.That(space.Mprotect(P(11), L(1), Prot.Read), Is.EqualTo(Errno.ENOMEM), "a split may not exceed max_map_count");
        Assert.That(space.MapCount, Is.EqualTo(4));
    }

    [Test]
    public void Brk_GrowsMergesAndShrinks()
    {
        using var space = new AddressSpace();
        ulong start = space.Options.StartBrk;
        Assert.That(space.Brk(0, out ulong current), Is.EqualTo(Errno.ENOMEM));
        Assert.That(current, Is.EqualTo(start));
        Assert.That(space.Brk(start + 100, out ulong result), Is.EqualTo(Errno.None));
        Assert.That(result, Is.EqualTo(start + 100));
        Assert.That(space.Brk(start + L(3), out _), Is.EqualTo(Errno.None));
        Assert.That(space.MapCount, Is.EqualTo(1), "the heap grows by expanding its VMA");
        Assert.That(space.Snapshot()[0].End, Is.EqualTo(start + L(3)));
        Assert.That(space.FormatMaps(), Does.Contain("[heap]"));
        Ok(space.Mmap(start + L(13), L(1), Rw, AnonFixed, out _));
        Assert.That(space.Brk(start + L(12), out _), Is.EqualTo(Errno.None), "up to a page below the next VMA");
        Assert.That(space.Brk(start + L(13), out result), Is.EqualTo(Errno.ENOMEM), "within a page of the next VMA");
        Assert.That(result, Is.EqualTo(start + L(12)));
        Ok(space.Munmap(start + L(13), L(1)));
        Ok(space.Mmap(start + L(13) + L(300), L(1), Rw, AnonFixed | MapFlags.GrowsDown, out _));
        Assert.That(space.Brk(start + L(100), out result), Is.EqualTo(Errno.ENOMEM), "within the guard gap below a stack");
        Assert.That(result, Is.EqualTo(start + L(12)));
        Assert.That(space.Brk(start + L(1), out _), Is.EqualTo(Errno.None));
        Assert.That(space.Snapshot()[0].End, Is.EqualTo(start + L(1)));
    }

    /// <summary>
    /// An operation for fault injection over [Start, End); <see cref="Prefix"/> applies it up to a given end, for
    /// operations the kernel may leave half done across VMAs; <see cref="Maps"/> marks an mmap, whose failure after
    /// the old mappings' page tables were cleared leaves the range unmapped (<c>vms_abort_munmap_vmas</c>);
    /// <see cref="Moves"/> marks an mremap move, which succeeds with the source left in place, without VM_ACCOUNT,
    /// when unmapping it cannot allocate (<c>move_vma</c>).
    /// </summary>
    public sealed record Scenario(string Name, ulong Start, ulong End, Func<AddressSpace, MappedFile, Errno> Run,
        Func<AddressSpace, MappedFile, ulong, Errno>? Prefix = null, bool Maps = false, Errno OomErrno = Errno.ENOMEM,
        bool Moves = false);

    private static IEnumerable<TestCaseData> FaultScenarios()
    {
        static TestCaseData Case(Scenario s) => new TestCaseData(s).SetName("inject " + s.Name);
        yield return Case(new("mmap splitting a VMA", P(2), P(4), (s, f) => s.Mmap(P(2), L(2), Prot.Read, AnonFixed, out _), Maps: true));
        yield return Case(new("mmap over several VMAs", P(6), P(14), (s, f) => s.Mmap(P(6), L(8), Rw, AnonFixed, out _), Maps: true));
        yield return Case(new("mmap shared anonymous", P(60), P(64), (s, f) => s.Mmap(P(60), L(4), Rw, SharedFixed, out _), Maps: true));
        yield return Case(new("mmap file merging", P(28), P(32), (s, f) => s.Mmap(P(28), L(4), Rw, MapFlags.Private | MapFlags.Fixed, f, L(108), out _), Maps: true));
        yield return Case(new("mmap populate", P(60), P(64), (s, f) => s.Mmap(P(60), L(4), Rw, AnonFixed | MapFlags.Populate, out _), Maps: true));
        yield return Case(new("munmap middle", P(2), P(4), (s, f) => s.Munmap(P(2), L(2))));
        yield return Case(new("munmap across", P(6), P(26), (s, f) => s.Munmap(P(6), L(20))));
        yield return Case(new("mprotect middle", P(2), P(4), (s, f) => s.Mprotect(P(2), L(2), Prot.Read)));
        yield return Case(new("mprotect across", P(6), P(10), (s, f) => s.Mprotect(P(6), L(4), Prot.None), (s, f, end) => s.Mprotect(P(6), end - P(6), Prot.None)));
        yield return Case(new("madvise across", P(6), P(16), (s, f) => s.Madvise(P(6), L(10), Advice.DontDump), (s, f, end) => s.Madvise(P(6), end - P(6), Advice.DontDump)));
        yield return Case(new("munlock middle", P(51), P(53), (s, f) => s.Munlock(P(51), L(2))));
        yield return Case(new("anon name middle", P(2), P(4), (s, f) => s.SetAnonName(P(2), L(2), "n")));
        yield return Case(new("touch first fault", P(400), P(404), (s, f) => s.Touch(P(400), L(4))));
        yield return Case(new("touch private file", P(21), P(23), (s, f) => s.Touch(P(21), L(2))));
        yield return Case(new("stack expansion", P(398), P(400), (s, f) => s.Touch(P(398), L(1)), OomErrno: Errno.EFAULT));
        yield return Case(new("mremap grow in place", P(50), P(56), (s, f) => s.Mremap(P(50), L(4), L(6), MremapFlags.None, 0, out _)));
        yield return Case(new("mremap move", P(8), P(12), (s, f) => s.Mremap(P(8), L(4), L(4), MremapFlags.MayMove | MremapFlags.Fixed, P(70), out _), Moves: true));
        yield return Case(new("mremap move accounted part", P(2), P(4), (s, f) => s.Mremap(P(2), L(2), L(2), MremapFlags.MayMove | MremapFlags.Fixed, P(70), out _), Moves: true));
        yield return Case(new("brk grow", 0, 0, (s, f) => s.Brk(s.Options.StartBrk + L(2), out _)));
    }

    [TestCaseSource(nameof(FaultScenarios))]
    public void AllocationFailure_AtEveryPoint_LeavesTheMmAsItWas(Scenario scenario)
    {
        List<VmaInfo> expected;
        using (AddressSpace reference = Setup())
        {
            reference.Faults.ResetCount();
            Assert.That(scenario.Run(reference, _files.Open("data", 262144)), Is.EqualTo(Errno.None));
            Assert.That(reference.Faults.AllocationsSeen, Is.GreaterThan(0), "the operation has no allocation point");
            expected = Snapshots.Normalized(reference);
        }

        for (int k = 0; ; k++)
        {
            using AddressSpace space = Setup();
            List<VmaInfo> before = Snapshots.Normalized(space);
            long activeBefore = Snapshots.ActiveVmas();
            space.Faults.FailAfter(k);
            Errno errno = scenario.Run(space, _files.Open("data", 262144));
            space.Faults.FailAfter(-1);
            List<VmaInfo> after = Snapshots.Normalized(space);
            string message = $"k={k} {errno}\nbefore {Snapshots.Text(before)}\nafter  {Snapshots.Text(after)}\nexpect {Snapshots.Text(expected)}";
            if (errno == Errno.None)
            {
                // A merge that cannot allocate falls back to a new VMA (without the neighbour's anon_vma), and
                // population ignores its errors, so only the pages' attributes must match.
                bool keptSource = scenario.Moves && Snapshots.SamePages(after, Snapshots.WithSource(expected, before, scenario.Start, scenario.End), ignoreAnon: true);
                Assert.That(keptSource || Snapshots.SamePages(after, expected, ignoreAnon: true), Is.True, message);
                break;
            }

            Assert.That(errno, Is.AnyOf(scenario.OomErrno, Errno.EAGAIN), message);
            if (Snapshots.Text(after) == Snapshots.Text(before))
            {
                Assert.That(Snapshots.ActiveVmas(), Is.EqualTo(activeBefore), $"{message}: VMA objects leaked or lost");
                continue;
            }

            // The kernel's partial effects: a split at the range's ends that stays; for mmap, the range left
            // unmapped; for walks across VMAs, the VMAs before the failing one changed.
            ulong[] ends = [scenario.Start, scenario.End];
            bool splitOnly = Snapshots.SamePages(after, before) && Snapshots.BoundariesWithin(after, before, ends);
            bool mmapGap = scenario.Maps && Snapshots.SamePages(after, Snapshots.Without(before, scenario.Start, scenario.End))
                && Snapshots.BoundariesWithin(after, before, ends);
            bool prefix = scenario.Prefix != null && PrefixOutcomes(scenario).Any(p => Snapshots.SamePages(after, p) && Snapshots.BoundariesWithin(after, p, ends));
            Assert.That(splitOnly || mmapGap || prefix, Is.True, $"{message}: not a partial effect the kernel leaves");
        }
    }

    /// <summary>The layouts of the operation applied up to each VMA boundary of the starting layout.</summary>
    private List<List<VmaInfo>> PrefixOutcomes(Scenario scenario)
    {
        var outcomes = new List<List<VmaInfo>>();
        List<ulong> ends;
        using (AddressSpace probe = Setup())
        {
            ends = probe.Snapshot().Select(v => v.End).ToList();
        }

        foreach (ulong end in ends.Where(e => e > scenario.Start && e < scenario.End))
        {
            using AddressSpace space = Setup();
            scenario.Prefix!(space, _files.Open("data", 262144), end);
            outcomes.Add(Snapshots.Normalized(space));
        }

        return outcomes;
    }
}
