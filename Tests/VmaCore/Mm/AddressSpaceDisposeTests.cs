using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;

namespace Tests.VmaCore.Mm;

/// <summary>
/// An address space after and during <see cref="AddressSpace.Dispose"/>: every member throws an
/// <see cref="ObjectDisposedException"/> naming <see cref="AddressSpace"/> without touching freed memory, and a
/// disposal racing with faults, lookups and system calls waits for them or makes them fail with that exception.
/// </summary>
[TestFixture]
public unsafe class AddressSpaceDisposeTests
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong Base = 0x1000_0000;
    private const MapFlags FixedAnonymous = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const Prot Rw = Prot.Read | Prot.Write;
    private const int HangGuardMilliseconds = 30_000;

    /// <summary>Every public member of <see cref="AddressSpace"/> that must throw once it is disposed, by name.</summary>
    private static IEnumerable<TestCaseData> MembersAfterDispose()
    {
        MappedFile file = FileRegistry.OpenPrivate("f", 16, canRead: true, canWrite: true);
        yield return Case("MapCount", s => _ = s.MapCount);
        yield return Case("CurrentBrk", s => _ = s.CurrentBrk);
        yield return Case("LockVmaUnderRcu", LockRaw);
        yield return Case("Fault", s => s.Fault(Base, FaultAccess.Write));
        yield return Case("Touch", s => s.Touch(Base, Page));
        yield return Case("Touch of nothing", s => s.Touch(Base, 0));
        yield return Case("Mmap", s => s.Mmap(Base, Page, Rw, FixedAnonymous, out _));
        yield return Case("Mmap without MAP_ANONYMOUS", s => s.Mmap(Base, Page, Rw, MapFlags.Private, out _));
        yield return Case("Mmap of a file", s => s.Mmap(Base, Page, Rw, MapFlags.Private | MapFlags.Fixed, file, 0, out _));
        yield return Case("Munmap", s => s.Munmap(Base, Page));
        yield return Case("Mprotect", s => s.Mprotect(Base, Page, Prot.Read));
        yield return Case("Mprotect with bad bits", s => s.Mprotect(Base, Page, (Prot)0x40));
        yield return Case("Madvise", s => s.Madvise(Base, Page, Advice.DontFork));
        yield return Case("Mlock", s => s.Mlock(Base, Page));
        yield return Case("Munlock", s => s.Munlock(Base, Page));
        yield return Case("Mremap", s => s.Mremap(Base, Page, 2 * Page, MremapFlags.MayMove, 0, out _));
        yield return Case("Brk", s => s.Brk(0, out _));
        yield return Case("SetAnonName", s => s.SetAnonName(Base, Page, "x"));
        yield return Case("Snapshot", s => s.Snapshot());
        yield return Case("FormatMaps", s => s.FormatMaps());
        yield return Case("Shrink", s => s.Shrink());
        yield return Case("TryGetVma", s => s.TryGetVma(Base, out _));
        yield return Case("ReadLockVma", s => s.ReadLockVma(Base));
    }

    /// <summary>The raw lock-free lookup (outside the iterator, which cannot use pointers).</summary>
    private static void LockRaw(AddressSpace space) => _ = space.LockVmaUnderRcu(Base) == null;

    private static TestCaseData Case(string name, Action<AddressSpace> call) => new TestCaseData(call).SetArgDisplayNames(name);

    [TestCaseSource(nameof(MembersAfterDispose))]
    public void EveryMemberThrowsObjectDisposedNamingTheAddressSpace(Action<AddressSpace> call)
    {
        var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Rw, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        space.Dispose();

        var thrown = Assert.Throws<ObjectDisposedException>(() => call(space));
        Assert.That(thrown!.ObjectName, Does.EndWith(nameof(AddressSpace)));
    }

    [Test]
    public void DisposeTwiceAndToStringAfterDisposeDoNotThrow()
    {
        var space = new AddressSpace();
        space.Dispose();
        Assert.DoesNotThrow(space.Dispose);
        Assert.That(space.ToString(), Does.Contain("disposed"));
        Assert.That(space.Options, Is.Not.Null, "the options are an immutable configuration, readable after disposal");
    }

    /// <summary>
    /// A system call queued for mmap_lock beside Dispose either runs before it (a valid result) or, once Dispose has
    /// closed the lock, fails with <see cref="ObjectDisposedException"/>; which one gets the lock first is up to the
    /// lock.
    /// </summary>
    [Test]
    public void ASyscallWaitingForMmapLockBesideDisposeEndsInAResultOrObjectDisposed([Range(0, 4)] int attempt)
    {
        var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Rw, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        space.MmapLock.ReadLock();
        var dispose = Task.Run(space.Dispose);
        SpinWait.SpinUntil(() => space.IsDisposed, HangGuardMilliseconds);
        var munmap = Task.Run(() => space.Munmap(Base, Page));
        Thread.Sleep(20);
        Assert.That(dispose.IsCompleted, Is.False, "Dispose waits for the holder of mmap_lock");
        space.MmapLock.ReadUnlock();

        bool finished = SpinWait.SpinUntil(() => munmap.IsCompleted && dispose.IsCompleted, HangGuardMilliseconds);
        Assert.That(finished, Is.True, $"hang in attempt {attempt}");
        Assert.That(dispose.IsCompletedSuccessfully, Is.True);
        if (munmap.IsFaulted)
        {
            Assert.That(munmap.Exception!.InnerException, Is.TypeOf<ObjectDisposedException>());
        }
        else
        {
            Assert.That(munmap.Result, Is.EqualTo(Errno.None));
        }
    }

    [Test]
    public void DisposeWaitsForAVmaReadLockedThroughTheRawPath()
    {
        var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Rw, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        VmArea* vma = space.LockVmaUnderRcu(Base);
        Assert.That(vma != null);

        var dispose = Task.Run(space.Dispose);
        SpinWait.SpinUntil(() => space.IsDisposed, HangGuardMilliseconds);
        Thread.Sleep(20);
        Assert.That(dispose.IsCompleted, Is.False, "Dispose waits for the reader, as a writer does");
        Assert.That(vma->VmStart, Is.EqualTo(Base), "the VMA is intact while the reader holds it");
        Assert.Throws<ObjectDisposedException>(() => space.LockVmaUnderRcu(Base), "new readers are refused meanwhile");

        AddressSpace.VmaEndRead(vma);
        Assert.That(dispose.Wait(HangGuardMilliseconds), Is.True, "the release woke Dispose");
    }

    [Test]
    public void DisposeWaitsForAReadLockGuard()
    {
        var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Rw, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        VmaReadLock guard = space.ReadLockVma(Base + Page);
        var dispose = Task.Run(space.Dispose);
        SpinWait.SpinUntil(() => space.IsDisposed, HangGuardMilliseconds);
        Thread.Sleep(20);
        Assert.That(dispose.IsCompleted, Is.False);
        Assert.That(guard.Start, Is.EqualTo(Base));
        guard.Dispose();
        Assert.That(dispose.Wait(HangGuardMilliseconds), Is.True);
    }

    /// <summary>
    /// A fault below a growsdown VMA drops mmap_lock to take it for write; when Dispose gets it first, the fault ends
    /// in <see cref="ObjectDisposedException"/> (not in a release of the read lock it no longer holds).
    /// </summary>
    [Test]
    public void AStackFaultWaitingForMmapLockWhileDisposeRunsEndsCleanly([Range(0, 4)] int attempt)
    {
        var space = new AddressSpace();
        ulong stack = Base + (512 * Page);
        Assert.That(space.Mmap(stack, 4 * Page, Rw, FixedAnonymous | MapFlags.GrowsDown, out _), Is.EqualTo(Errno.None));

        // Holding mmap_lock for read, make the fault and then Dispose queue for it for write.
        space.MmapLock.ReadLock();
        var fault = Task.Run(() => space.Fault(stack - Page, FaultAccess.Write));
        Thread.Sleep(20);
        var dispose = Task.Run(space.Dispose);
        SpinWait.SpinUntil(() => space.IsDisposed, HangGuardMilliseconds);
        Thread.Sleep(20);
        space.MmapLock.ReadUnlock();

        bool finished = SpinWait.SpinUntil(() => fault.IsCompleted && dispose.IsCompleted, HangGuardMilliseconds);
        Assert.That(finished, Is.True, $"hang in attempt {attempt}");
        Assert.That(dispose.IsCompletedSuccessfully, Is.True);
        if (fault.IsFaulted)
        {
            Assert.That(fault.Exception!.InnerException, Is.TypeOf<ObjectDisposedException>());
        }
        else
        {
            Assert.That(fault.Result, Is.EqualTo(FaultResult.Ok), "the stack grew before the disposal");
        }
    }

    /// <summary>
    /// Threads fault, touch, look up and map in a loop while another thread disposes: each call ends in a valid result
    /// or an <see cref="ObjectDisposedException"/>, nothing else, and nothing hangs. Bounded and seeded.
    /// </summary>
    [Test]
    public void DisposingWhileThreadsFaultAndMapEndsInValidResultsOrObjectDisposed()
    {
        const int Rounds = 40;
        const int Seed = 1313;
        var random = new Random(Seed);
        for (int round = 0; round < Rounds; round++)
        {
            var space = new AddressSpace();
            // Four pages mapped of every eight; the last VMA grows down, so faults below it take mmap_lock for write.
            for (ulong i = 0; i < 8; i++)
            {
                MapFlags flags = i == 7 ? FixedAnonymous | MapFlags.GrowsDown : FixedAnonymous;
                Assert.That(space.Mmap(Base + (i * 8 * Page), 4 * Page, i % 2 == 0 ? Rw : Prot.Read, flags, out _), Is.EqualTo(Errno.None));
            }

            int callsBeforeDispose = random.Next(1, 300);
            var calls = new StrongBox<int>();
            var unexpected = new List<Exception>();
            var workers = new Task[3];
            for (int w = 0; w < workers.Length; w++)
            {
                int worker = w;
                int workerSeed = random.Next();
                workers[w] = Task.Run(() => Hammer(space, worker, workerSeed, calls, unexpected));
            }

            // Dispose once the workers are busy (or have all stopped on an unexpected exception).
            SpinWait.SpinUntil(
                () => Volatile.Read(ref calls.Value) >= callsBeforeDispose || Array.TrueForAll(workers, t => t.IsCompleted),
                HangGuardMilliseconds);
            var dispose = Task.Run(space.Dispose);
            bool finished = Task.WaitAll([.. workers, dispose], HangGuardMilliseconds);
            Assert.That(finished, Is.True, $"hang in round {round} (seed {Seed})");
            lock (unexpected)
            {
                Assert.That(unexpected, Is.Empty, $"round {round} (seed {Seed})");
            }
        }
    }

    /// <summary>Calls members at random until the space is disposed; records any exception but the expected one.</summary>
    private static void Hammer(AddressSpace space, int worker, int seed, StrongBox<int> calls, List<Exception> unexpected)
    {
        var random = new Random(seed);
        for (int i = 0; i < 100_000; i++)
        {
            Interlocked.Increment(ref calls.Value);
            ulong address = Base + ((ulong)random.Next(0, 64) * Page);
            try
            {
                switch ((worker + random.Next(0, 6)) % 6)
                {
                    case 0:
                        FaultResult fault = space.Fault(address, (FaultAccess)random.Next(0, 3));
                        Assert.That(Enum.IsDefined(fault), Is.True);
                        break;
                    case 1:
                        VmArea* vma = space.LockVmaUnderRcu(address);
                        if (vma != null)
                        {
                            Assert.That(vma->Contains(address), Is.True);
                            AddressSpace.VmaEndRead(vma);
                        }

                        break;
                    case 2:
                        using (VmaReadLock guard = space.ReadLockVma(address))
                        {
                            Assert.That(!guard.HasValue || guard.Info.Contains(address), Is.True);
                        }

                        break;
                    case 3:
                        space.Touch(address, Page);
                        break;
                    case 4:
                        space.Mprotect(address, Page, random.Next(0, 2) == 0 ? Prot.Read : Rw);
                        break;
                    default:
                        _ = space.MapCount;
                        space.TryGetVma(address, out _);
                        break;
                }
            }
            catch (ObjectDisposedException e) when (e.ObjectName.EndsWith(nameof(AddressSpace), StringComparison.Ordinal))
            {
                return;
            }
            catch (Exception e)
            {
                lock (unexpected)
                {
                    unexpected.Add(e);
                }

                return;
            }
        }
    }
}
