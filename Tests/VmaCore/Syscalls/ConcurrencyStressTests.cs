using System;
using System.Collections.Generic;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Vma;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// Readers fault and read-lock VMAs at random addresses while a writer runs random system calls on the same address
/// space: every VMA a reader gets covers its address, belongs to this mm and does not change while read-locked;
/// nothing deadlocks; the writer's results and the final layout equal a sequential run of the same calls.
/// </summary>
public sealed unsafe class ConcurrencyStressTests
{
    private const int Window = 64;
    private const int WriterSteps = 20_000;
    private const int ReaderIterationCap = 2_000_000;

    [TestCase(7, 2)]
    [TestCase(11, 3)]
    public void ReadersAndFaults_DuringRandomSyscalls(int seed, int readers)
    {
        using var space = new AddressSpace();
        var errors = new List<string>();
        int writerDone = 0;
        var threads = new List<Thread>();
        for (int r = 0; r < readers; r++)
        {
            int readerSeed = seed * 100 + r;
            var thread = new Thread(() => Reader(space, readerSeed, ref writerDone, errors)) { IsBackground = true };
            threads.Add(thread);
            thread.Start();
        }

        List<Errno> concurrent;
        try
        {
            concurrent = RunWriter(space, seed);
        }
        finally
        {
            Volatile.Write(ref writerDone, 1);
        }

        foreach (Thread thread in threads)
        {
            Assert.That(thread.Join(TimeSpan.FromMinutes(2)), Is.True, $"seed {seed}: a reader did not finish (deadlock?)");
        }

        lock (errors)
        {
            Assert.That(errors, Is.Empty, $"seed {seed}");
        }

        using var sequential = new AddressSpace();
        List<Errno> expected = RunWriter(sequential, seed);
        Assert.That(concurrent, Is.EqualTo(expected), $"seed {seed}: results");
        Assert.That(Snapshots.Text(Snapshots.Normalized(space)), Is.EqualTo(Snapshots.Text(Snapshots.Normalized(sequential))), $"seed {seed}: layout");
    }

    /// <summary>The writer: random mmap, munmap, mprotect, madvise, mlock and touch calls in the window.</summary>
    private static List<Errno> RunWriter(AddressSpace space, int seed)
    {
        var random = new Random(seed);
        var results = new List<Errno>(WriterSteps);
        for (int i = 0; i < WriterSteps; i++)
        {
            int start = random.Next(Window);
            ulong count = (ulong)(1 + random.Next(Math.Min(16, Window - start)));
            ulong address = P((ulong)start);
            Prot prot = (Prot)random.Next(8);
            results.Add(random.Next(7) switch
            {
                0 or 1 => space.Mmap(address, L(count), prot, (random.Next(4) == 0 ? MapFlags.Shared : MapFlags.Private) | MapFlags.Anonymous | MapFlags.Fixed, out _),
                2 => space.Munmap(address, L(count)),
                3 => space.Mprotect(address, L(count), prot),
                4 => space.Madvise(address, L(count), random.Next(2) == 0 ? Advice.DontFork : Advice.DoFork),
                5 => space.Mlock(address, L(count)),
                _ => space.Touch(address, L(count)),
            });
        }

        return results;
    }

    /// <summary>
    /// A reader: read faults (which never change the layout: the zero page, no stacks) and per-VMA read locks, checking
    /// what it gets, until the writer is done.
    /// </summary>
    private static void Reader(AddressSpace space, int seed, ref int writerDone, List<string> errors)
    {
        var random = new Random(seed);
        for (int i = 0; i < ReaderIterationCap && Volatile.Read(ref writerDone) == 0; i++)
        {
            ulong address = P((ulong)random.Next(Window)) + (ulong)random.Next((int)MmConstants.PageSize);
            if (random.Next(2) == 0)
            {
                FaultResult result = space.Fault(address, FaultAccess.Read);
                if (result is FaultResult.SigBus or FaultResult.OutOfMemory)
                {
                    Record(errors, $"seed {seed}: read fault at {address:x} gave {result}");
                }

                continue;
            }

            VmArea* vma = space.LockVmaUnderRcu(address);
            if (vma == null)
            {
                continue;
            }

            ulong start = vma->VmStart;
            ulong end = vma->VmEnd;
            VmFlags flags = vma->VmFlags;
            if (vma->VmMm != space.Mm || address < start || address >= end)
            {
                Record(errors, $"seed {seed}: VMA [{start:x}, {end:x}) of mm {(nint)vma->VmMm} for {address:x}");
            }

            Thread.SpinWait(random.Next(50));
            if (vma->VmStart != start || vma->VmEnd != end || vma->VmFlags != flags || vma->VmRefcnt < 2)
            {
                Record(errors, $"seed {seed}: VMA changed while read-locked");
            }

            AddressSpace.VmaEndRead(vma);
        }
    }

    private static void Record(List<string> errors, string error)
    {
        lock (errors)
        {
            errors.Add(error);
        }
    }
}
