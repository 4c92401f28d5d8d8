using System;
using System.Collections.Generic;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// 100,000 random system calls against <see cref="LayoutModel"/>: after every step the page-level attributes and
/// error codes agree, VMAs that the model says must have merged did, and the tree, map count, slab accounting and
/// per-VMA reference counts are consistent.
/// </summary>
public sealed unsafe class ModelBasedTests
{
    private const int Window = 48;
    private const int Steps = 100_000;

    /// <summary>The advices that change <c>vm_flags</c> and that the model implements, in ascending value order.</summary>
    private static readonly Advice[] s_flagAdvices =
    [
        Advice.Normal, Advice.Random, Advice.Sequential, Advice.DontFork, Advice.DoFork, Advice.HugePage,
        Advice.NoHugePage, Advice.DontDump, Advice.DoDump, Advice.WipeOnFork, Advice.KeepOnFork,
    ];

    [TestCase(20261125)]
    public void RandomSyscalls_MatchTheModel(int seed)
    {
        var random = new Random(seed);
        using var files = new FileRegistry();
        MappedFile file = files.Open("model", 4096);
        long activeBase = Snapshots.ActiveVmas();
        using var space = new AddressSpace();
        var model = new LayoutModel(Window);
        var seen = new HashSet<nint>();
        for (int step = 0; step < Steps; step++)
        {
            int start = random.Next(Window);
            int count = 1 + random.Next(Math.Min(12, Window - start));
            string op = "";
            Errno expected = Errno.None;
            Errno actual;
            Dictionary<int, bool> anon = AnonPages(space);
            switch (random.Next(9))
            {
                case 0:
                case 1:
                    {
                        Prot prot = (Prot)random.Next(8);
                        bool shared = random.Next(4) == 0;
                        bool useFile = random.Next(3) == 0;
                        bool noReserve = random.Next(5) == 0;
                        bool locked = random.Next(8) == 0;
                        ulong pgoff = (ulong)random.Next(64);
                        MapFlags flags = (shared ? MapFlags.Shared : MapFlags.Private) | MapFlags.Fixed
                            | (noReserve ? MapFlags.NoReserve : 0) | (locked ? MapFlags.Locked : 0);
                        op = $"mmap {start} {count} {prot} shared={shared} file={useFile} pgoff={pgoff} nr={noReserve} lo={locked}";
                        actual = useFile
                            ? space.Mmap(P((ulong)start), L((ulong)count), prot, flags, file, L(pgoff), out _)
                            : space.Mmap(P((ulong)start), L((ulong)count), prot, flags | MapFlags.Anonymous, out _);
                        model.Mmap(start, count, prot, shared, useFile ? file.Id : 0, pgoff, noReserve, locked);
                        break;
                    }

                case 2:
                    op = $"munmap {start} {count}";
                    actual = space.Munmap(P((ulong)start), L((ulong)count));
                    model.Munmap(start, count);
                    break;
                case 3:
                    {
                        Prot prot = (Prot)random.Next(8);
                        op = $"mprotect {start} {count} {prot}";
                        actual = space.Mprotect(P((ulong)start), L((ulong)count), prot);
                        expected = model.Mprotect(start, count, prot, p => anon.GetValueOrDefault(p));
                        break;
                    }

                case 4:
                    {
                        Advice advice = s_flagAdvices[random.Next(s_flagAdvices.Length)];
                        op = $"madvise {start} {count} {advice}";
                        actual = space.Madvise(P((ulong)start), L((ulong)count), advice);
                        expected = model.Madvise(start, count, advice);
                        break;
                    }

                case 5:
                    op = $"mlock {start} {count}";
                    actual = space.Mlock(P((ulong)start), L((ulong)count));
                    expected = model.Lock(start, count, lockPages: true);
                    break;
                case 6:
                    op = $"munlock {start} {count}";
                    actual = space.Munlock(P((ulong)start), L((ulong)count));
                    expected = model.Lock(start, count, lockPages: false);
                    break;
                case 7:
                    {
                        string? name = random.Next(3) switch { 0 => null, 1 => "a", _ => "b" };
                        op = $"name {start} {count} {name}";
                        actual = space.SetAnonName(P((ulong)start), L((ulong)count), name);
                        expected = model.SetName(start, count, name);
                        break;
                    }

                default:
                    op = $"touch {start} {count}";
                    actual = space.Touch(P((ulong)start), L((ulong)count));
                    expected = model.Touch(start, count);
                    break;
            }

            string context = $"seed {seed} step {step}: {op}";
            Assert.That(actual, Is.EqualTo(expected), context);
            CheckLayout(space, model, context);
            CheckStructures(space, activeBase, seen, context);
        }
    }

    /// <summary>Which pages lie in a VMA with an anon_vma, as the engine has it before an operation.</summary>
    private static Dictionary<int, bool> AnonPages(AddressSpace space)
    {
        var pages = new Dictionary<int, bool>();
        foreach (VmaInfo v in space.Snapshot())
        {
            for (ulong a = v.Start; a < v.End; a += MmConstants.PageSize)
            {
                pages[(int)((a - Base) / MmConstants.PageSize)] = v.AnonVmaId != 0;
            }
        }

        return pages;
    }

    private static void CheckLayout(AddressSpace space, LayoutModel model, string context)
    {
        IReadOnlyList<VmaInfo> vmas = space.Snapshot();
        var engine = new LayoutModel.PageState[model.Count];
        foreach (VmaInfo v in vmas)
        {
            Assert.That(v.Start >= Base && v.End <= P(Window), Is.True, $"{context}: VMA outside the window");
            for (ulong a = v.Start; a < v.End; a += MmConstants.PageSize)
            {
                int page = (int)((a - Base) / MmConstants.PageSize);
                engine[page] = new LayoutModel.PageState
                {
                    Mapped = true,
                    Flags = v.Flags & ~VmFlags.SoftDirty,
                    Object = v.Backing == VmaBacking.Anonymous ? 0 : v.Backing == VmaBacking.File ? v.FileId : -1,
                    Pgoff = v.Pgoff + ((a - v.Start) / MmConstants.PageSize),
                    Name = v.AnonName,
                };
            }
        }

        for (int p = 0; p < model.Count; p++)
        {
            LayoutModel.PageState m = model[p];
            LayoutModel.PageState e = engine[p];
            bool same = m.Mapped == e.Mapped && (!m.Mapped || (m.Flags == e.Flags && m.Pgoff == e.Pgoff && m.Name == e.Name
                && (m.Object < 0 ? e.Object < 0 : m.Object == e.Object)));
            if (!same)
            {
                Assert.Fail($"{context}: page {p}: model {Describe(m)}, engine {Describe(e)}\n{Of(space)}");
            }
        }

        for (int i = 1; i < vmas.Count; i++)
        {
            VmaInfo a = vmas[i - 1];
            VmaInfo b = vmas[i];
            bool mergeable = a.End == b.Start && a.AnonVmaId == 0 && b.AnonVmaId == 0
                && (a.Flags & ~VmFlags.SoftDirty) == (b.Flags & ~VmFlags.SoftDirty) && a.Backing == b.Backing
                && a.FileId == b.FileId && a.AnonName == b.AnonName
                && (a.Backing == VmaBacking.Anonymous || a.Pgoff + ((a.End - a.Start) / MmConstants.PageSize) == b.Pgoff);
            if (mergeable)
            {
                Assert.Fail($"{context}: unfaulted compatible neighbours left unmerged\n{Of(space)}");
            }
        }
    }

    private static string Describe(LayoutModel.PageState s) =>
        s.Mapped ? $"{s.Flags} obj {s.Object} pgoff {s.Pgoff} name {s.Name}" : "unmapped";

    /// <summary>
    /// The tree holds sorted, disjoint ranges that match their VMAs; the map count is their number; the VMA cache
    /// holds exactly them; attached VMAs have refcount 1 (nobody reads), freed ones 0.
    /// </summary>
    private static void CheckStructures(AddressSpace space, long activeBase, HashSet<nint> seen, string context)
    {
        var attached = new HashSet<nint>();
        ulong address = 0;
        ulong lastEnd = 0;
        VmArea* vma;
        while ((vma = space.Tree.FindAtOrAfter(address, ulong.MaxValue, out ulong start, out ulong end)) != null)
        {
            Assert.That(start == vma->VmStart && end == vma->VmEnd && start < end && start >= lastEnd, Is.True, $"{context}: tree range");
            Assert.That(vma->VmMm == space.Mm, Is.True, $"{context}: VMA of another mm");
            Assert.That(vma->VmRefcnt, Is.EqualTo(1), $"{context}: attached VMA refcount");
            attached.Add((nint)vma);
            lastEnd = end;
            address = end;
        }

        Assert.That(space.MapCount, Is.EqualTo(attached.Count), $"{context}: map_count");
        Assert.That(Snapshots.ActiveVmas() - activeBase, Is.EqualTo(attached.Count), $"{context}: slab objects");
        foreach (nint old in seen)
        {
            if (!attached.Contains(old))
            {
                Assert.That(((VmArea*)old)->VmRefcnt, Is.EqualTo(0), $"{context}: freed VMA refcount");
            }
        }

        seen.UnionWith(attached);
    }
}
