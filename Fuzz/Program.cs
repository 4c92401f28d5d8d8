using System;
using System.Globalization;
using VmaEngine.Slab;
using VmaEngine.Vma;

namespace Fuzz;

/// <summary>
/// <c>dotnet run -c Release --project Fuzz -- [--calls N] [--seed S] [--engine-only] [--slab-debug] [--brk-edges]</c>:
/// the differential syscall fuzzer, run as long as asked.
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: Fuzz [--calls N] [--seed S] [--engine-only] [--slab-debug] [--brk-edges] [--max-findings K]

        Random mmap, munmap, mprotect, madvise, mlock, munlock, mremap, brk, prctl(PR_SET_VMA_ANON_NAME),
        page faults and touches, with arguments from all 64-bit values biased toward edges, run on the VMA
        engine and on this machine's kernel (a small C helper compiled with gcc, each case in a forked
        child); the errno, the address where placement is deterministic and the layout of the compared
        zones must agree after every call.

          --calls N         calls to compare (default 1000000)
          --seed S          the generator's seed (default 1)
          --engine-only     no kernel: unconfined calls on the engine, structures checked after each
          --slab-debug      the engine's slab caches in debug mode (red zones, poison, free checks)
          --brk-edges       also brk values at or above TASK_SIZE (the tests always draw them)
          --max-findings K  stop after K differences (default 20)

        Exit status: 0 no difference; 1 differences or broken invariants (printed); 2 usage error.
        """;

    public static int Main(string[] args)
    {
        long calls = 1_000_000;
        int seed = 1;
        int maxFindings = 20;
        bool engineOnly = false;
        bool brkEdges = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--calls" when i + 1 < args.Length && long.TryParse(args[i + 1], CultureInfo.InvariantCulture, out calls):
                case "--seed" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out seed):
                case "--max-findings" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out maxFindings):
                    i++;
                    break;
                case "--engine-only":
                    engineOnly = true;
                    break;
                case "--brk-edges":
                    brkEdges = true;
                    break;
                case "--slab-debug":
                    AppContext.SetSwitch(SlabDebugSwitch.Name, true);
                    break;
                case "--help" or "-h":
                    Console.Out.Write(Usage);
                    return 0;
                default:
                    Console.Error.WriteLine($"Fuzz: unexpected argument '{args[i]}'");
                    Console.Error.Write(Usage);
                    return 2;
            }
        }

        if (!engineOnly && !KernelHelper.IsSupported)
        {
            Console.Error.WriteLine("Fuzz: the kernel side needs Linux on x86-64; use --engine-only");
            return 2;
        }

        FuzzReport report = engineOnly
            ? EngineFuzzer.Run(seed, calls, brkEdges, maxFindings)
            : DifferentialFuzzer.Run(seed, calls, brkEdges, maxFindings);
        Console.Out.Write(report.ToString());
        if (AppContext.TryGetSwitch(SlabDebugSwitch.Name, out bool debug) && debug)
        {
            // The switch must have reached the caches: they are created once, at the engine's first allocation.
            bool on = (VmAreaCache.Cache.Flags & AnonVmaCache.AnonVmas.Flags & AnonVmaCache.Chains.Flags & SlabFlags.Debug) != 0;
            Console.Out.WriteLine($"slab caches: {(on ? "debug" : "NOT debug")}");
            if (!on)
            {
                return 1;
            }
        }

        return report.Findings.Count == 0 && report.LostCases.Count == 0 ? 0 : 1;
    }
}
