using System;
using System.IO;
using VmaEngine.Vma;

namespace Replay;

/// <summary>
/// <c>dotnet run -c Release --project Replay -- [--profile NAME] TRACE</c>: replays a vmatrace v1 trace on an
/// <see cref="AddressSpace"/> and prints what the kernel oracle prints for the same trace.
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: Replay [--profile NAME] TRACE|-

        Replays a vmatrace v1 trace (one mm operation per line: mmap, munmap, mprotect, madvise, mlock,
        munlock, name, touch, mremap, maps, fork; addresses and lengths in pages of a window) on the VMA engine
        and prints the layout at each 'maps' exactly as the kernel oracle does, plus 'error OP errno=NAME'
        for each failed operation. '-' reads the trace from standard input.

        Profiles (the kernel the engine models):
          v6.15        stock Linux v6.15 with anonymous VMA names and the zero page (default)
          oracle-host  the oracle's machine: Linux 6.18, no CONFIG_ANON_VMA_NAME, no zero page

        Exit status: 0 the trace ran; 1 usage or I/O error; 2 malformed trace (the message names the line).
        The full format is described in docs/vmatrace-format.md.
        """;

    public static int Main(string[] args)
    {
        string profile = AddressSpaceOptions.ProfileV615;
        string? path = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--help" or "-h":
                    Console.Out.Write(Usage);
                    return 0;
                case "--profile" when i + 1 < args.Length:
                    profile = args[++i];
                    break;
                default:
                    if (path != null || (args[i].StartsWith('-') && args[i] != "-"))
                    {
                        return UsageError($"unexpected argument '{args[i]}'");
                    }

                    path = args[i];
                    break;
            }
        }

        if (path == null)
        {
            return UsageError("no trace given");
        }

        AddressSpaceOptions options;
        try
        {
            options = AddressSpaceOptions.ForProfile(profile);
        }
        catch (ArgumentException e)
        {
            return UsageError(e.Message);
        }

        try
        {
            using TextReader reader = path == "-" ? Console.In : new StreamReader(path);
            var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false, NewLine = "\n" };
            int status = TraceRunner.Run(reader, output, options, Console.Error);
            output.Flush();
            return status;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"Replay: {e.Message}");
            return 1;
        }
        catch (UnauthorizedAccessException e)
        {
            Console.Error.WriteLine($"Replay: {e.Message}");
            return 1;
        }
    }

    private static int UsageError(string problem)
    {
        Console.Error.WriteLine($"Replay: {problem}");
        Console.Error.Write(Usage);
        return 1;
    }
}
