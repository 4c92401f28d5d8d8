using System;
using System.Threading.Tasks;
using Fuzz;
using NUnit.Framework;

namespace Tests.VmaCore.Fuzz;

/// <summary>
/// The differential syscall fuzzer against this machine's kernel: 10,000 random calls (mmap with and without a file,
/// munmap, mprotect, madvise, mlock, munlock, mremap, brk, prctl(PR_SET_VMA_ANON_NAME), read and write faults,
/// touches) with arguments from the whole 64-bit range biased toward edges, run on the engine (this machine's
/// profile: <c>oracle-host</c> with the zero page) and, each case in a forked child, by a small C helper compiled
/// with gcc. After every call the errno, the result where placement is deterministic and the layout of the compared
/// zones (VMA bounds, permissions, offsets, backing and the oracle's VmFlags) must be the same, and so must the mm
/// counters: <see cref="VmaEngine.Vma.AddressSpace.Counters"/> against how far VmSize, VmLck, VmPin, VmData,
/// VmExe + VmLib and VmStk of the child's <c>/proc/self/status</c> moved since its case began.
/// </summary>
/// <remarks>
/// <para>What the comparison leaves out, and why:</para>
/// <list type="bullet">
/// <item>Placement outside the zones: where an mmap or mremap without a fixed address lands depends on the rest of
/// the process (libraries, stack, randomisation), which the engine does not have; such a result only has to be
/// outside the zones on both sides. Hints inside the zones are compared exactly.</item>
/// <item>Calls that would act outside the zones (the helper's own executable, libraries, heap and stack) are
/// drawn again; calls that fail their argument checks are kept whatever their range.</item>
/// <item>Memory contents and sizes: nothing is mapped or grown beyond 16 MiB and nothing reaches the overcommit
/// limit or RLIMIT_MEMLOCK (the engine has no RAM to run out of; the test runs privileged, as the engine models).</item>
/// <item>Left out of the kernel comparison: MAP_HUGETLB (no hugetlb pool is modelled), MAP_DROPPABLE and
/// MREMAP_DONTUNMAP (modelled, and compared with the kernel by the handwritten-ext and random-ext traces instead,
/// not drawn here yet), MAP_32BIT without MAP_FIXED (random placement below 2 GiB), execute faults (they would run
/// the page), and argument bits above 32 (the engine's flag types are 32-bit, as the kernel's checks of them
/// are). Every advice of <see cref="VmaEngine.Vma.Advice"/> is drawn.</item>
/// <item>The range between the <c>vm.mmap_min_addr</c> sysctl and the kernel's effective mmap_min_addr
/// (CONFIG_LSM_MMAP_MIN_ADDR) when they differ: two limits the engine models as one.</item>
/// <item>Anonymous VMA names: this kernel has no CONFIG_ANON_VMA_NAME, so every name call is EINVAL on both.</item>
/// </list>
/// </remarks>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DifferentialFuzzTests
{
    private const long Calls = 10_000;

    [TestCase(20261202)]
    public void EngineMatchesThisKernel(int seed)
    {
        if (!KernelHelper.IsSupported)
        {
            Assert.Ignore("the kernel side needs Linux on x86-64");
        }

        Task<FuzzReport> run = Task.Run(() => DifferentialFuzzer.Run(seed, Calls, brkEdges: false, maxFindings: 5));
        Assert.That(run.Wait(TimeSpan.FromMinutes(10)), Is.True, $"seed {seed}: the differential run hangs");
        FuzzReport report = run.Result;
        Assert.That(report.Findings, Is.Empty, $"seed {seed}:\n{report}");
        Assert.That(report.LostCases, Is.Empty, $"seed {seed}: a case escaped the zones and killed its child\n{report}");
        Assert.That(report.Calls, Is.GreaterThanOrEqualTo(Calls), $"seed {seed}: {report}");
    }
}
