using System;
using System.Collections.Generic;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Tree;

namespace Tests.VmaCore.Tree;

/// <summary>
/// The tree against <see cref="RangeModel"/> over random stores, erases, overwrites spanning several ranges,
/// lookups and free-range searches; every invariant is validated periodically. Fixed seeds, printed on failure.
/// </summary>
[TestFixture]
public sealed unsafe class VmaTreeRandomTests
{
    private const int Operations = 250_000;
    private const int ValidateEvery = 1000;

    /// <summary>The addresses used: <c>units</c> units of <c>unit</c> bytes from <c>base</c>, the last one clipped at 2^64 - 1.</summary>
    [TestCase(1, 0UL, 4096UL, 4096)]
    [TestCase(2, 0UL, 1UL, 2048)]
    [TestCase(3, ulong.MaxValue - (4096UL * 4096), 4096UL, 4096)]
    [TestCase(4, 0x7f00_0000_0000UL, 4096UL, 16384)]
    public void RandomOperationsMatchTheModel(int seed, ulong baseAddress, ulong unit, int units)
    {
        var rng = new Random(seed);
        using var vmas = new FakeVmas(1024);
        var model = new RangeModel();
        var tree = new VmaTree();
        int op = 0;
        ulong Address(long u) => u >= units ? Math.Min(baseAddress + ((ulong)units * unit), ulong.MaxValue) : baseAddress + ((ulong)u * unit);
        string Where() => $"seed {seed}, operation {op}";

        try
        {
            for (op = 0; op < Operations; op++)
            {
                int kind = rng.Next(100);
                long u = rng.Next(units);
                long length = rng.Next(100) < 90 ? rng.Next(1, 9) : rng.Next(1, units / 8);
                ulong start = Address(u);
                ulong end = Address(Math.Min(u + length, units));
                if (kind < 30)
                {
                    Store(tree, model, vmas, start, end, rng.Next(vmas.Length), Where);
                }
                else if (kind < 50)
                {
                    Store(tree, model, vmas, start, end, -1, Where);
                }
                else if (kind < 56 && model.Count > 0)
                {
                    // Exactly over an existing range, or exactly over the free range after it.
                    ModelRange r = model.Ranges[rng.Next(model.Count)];
                    ModelRange? next = model.FindAtOrAfter(r.Last + 1, ulong.MaxValue);
                    bool gapAfter = next is { } n ? n.Start > r.Last + 1 : r.Last + 1 < ulong.MaxValue;
                    (ulong s, ulong e) = rng.Next(2) == 0 || !gapAfter ? (r.Start, r.Last + 1) : (r.Last + 1, next?.Start ?? ulong.MaxValue);
                    Store(tree, model, vmas, s, e, rng.Next(3) == 0 ? -1 : rng.Next(vmas.Length), Where);
                }
                else if (kind < 75)
                {
                    ulong address = start + (ulong)rng.NextInt64((long)Math.Min(unit, (ulong)long.MaxValue));
                    Assert.That(vmas.IdOf(tree.Load(address)), Is.EqualTo(model.Load(address)), $"Load(0x{address:x}), {Where()}");
                }
                else if (kind < 85)
                {
                    ulong limit = Address(rng.Next(units + 1));
                    CheckFind(model.FindAtOrAfter(start, limit), tree.FindAtOrAfter(start, limit, out ulong fs, out ulong fe), fs, fe, vmas,
                        $"FindAtOrAfter(0x{start:x}, 0x{limit:x}), {Where()}");
                    CheckFind(model.FindBefore(start, limit), tree.FindBefore(start, limit, out ulong bs, out ulong be), bs, be, vmas,
                        $"FindBefore(0x{start:x}, 0x{limit:x}), {Where()}");
                }
                else
                {
                    ulong high = Address(Math.Min(u + rng.Next(1, units), units));
                    ulong want = (ulong)(rng.Next(100) < 80 ? rng.Next(1, 5) : rng.Next(1, 64)) * unit;
                    bool found = tree.FindEmptyArea(start, high, want, out ulong low);
                    Assert.That(found ? low : (ulong?)null, Is.EqualTo(model.FindEmptyArea(start, high, want)),
                        $"FindEmptyArea(0x{start:x}, 0x{high:x}, 0x{want:x}), {Where()}");
                    found = tree.FindEmptyAreaRev(start, high, want, out ulong top);
                    Assert.That(found ? top : (ulong?)null, Is.EqualTo(model.FindEmptyAreaRev(start, high, want)),
                        $"FindEmptyAreaRev(0x{start:x}, 0x{high:x}, 0x{want:x}), {Where()}");
                }

                if (op % ValidateEvery == 0)
                {
                    CheckAll(tree, model, vmas, Where());
                }

                if (rng.Next(100) == 0 && tree.Height > 1)
                {
                    // Over most of one node above the leaves, leaving a few units at its edges: the leaves left
                    // hold too few slots, and the node's siblings may be under another parent (a cousin pull).
                    List<(ulong Min, ulong Max)> nodes = tree.NodeRanges(rng.Next(1, tree.Height));
                    (ulong min, ulong max) = nodes[rng.Next(nodes.Count)];
                    ulong edge = (ulong)rng.Next(4) * unit;
                    if (max - min > 2 * edge && max != ulong.MaxValue)
                    {
                        Store(tree, model, vmas, min + edge, max + 1 - edge, rng.Next(2) == 0 ? -1 : rng.Next(vmas.Length), Where);
                    }
                }

                if (rng.Next(2000) == 0)
                {
                    Store(tree, model, vmas, Address(0), Address(units), -1, Where);
                }
            }

            CheckAll(tree, model, vmas, Where());
        }
        finally
        {
            tree.Dispose();
        }
    }

    private static void Store(VmaTree tree, RangeModel model, FakeVmas vmas, ulong start, ulong end, int id, Func<string> where)
    {
        if (start >= end)
        {
            return;
        }

        Assert.That(tree.Preallocate(start, end), Is.True, where());
        tree.Store(start, end, vmas[id]);
        model.Store(start, end - 1, id);
    }

    private static void CheckFind(ModelRange? expected, VmArea* vma, ulong start, ulong end, FakeVmas vmas, string what)
    {
        ModelRange? actual = vma == null ? null : new ModelRange(start, end - 1, vmas.IdOf(vma));
        Assert.That(actual, Is.EqualTo(expected), what);
    }

    private static void CheckAll(VmaTree tree, RangeModel model, FakeVmas vmas, string where)
    {
        try
        {
            tree.Validate();
        }
        catch (InvalidOperationException e)
        {
            Assert.Fail($"{e.Message} ({where})");
        }

        var contents = new List<ModelRange>(model.Count);
        ulong address = 0;
        while (tree.FindAtOrAfter(address, ulong.MaxValue, out ulong start, out ulong end) is var vma && vma != null)
        {
            contents.Add(new ModelRange(start, end - 1, vmas.IdOf(vma)));
            address = end;
        }

        Assert.That(contents, Is.EqualTo(model.Ranges), $"contents, {where}");
        Assert.That(tree.Count, Is.EqualTo(model.Count), $"count, {where}");
    }
}
