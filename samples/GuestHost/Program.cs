// A small host built on the VmaEngine packages: one guest address space, a guest thread changing its layout
// with system calls, and a few vCPU threads faulting on it concurrently, as an emulator or a VMM would.
// Usage: GuestHost [FAULTS-PER-VCPU] (default 20000; a few million keep it running long enough to watch its meters
// with dotnet-counters).
using VmaEngine.Vma;

const ulong Page = 4096;
const int VcpuCount = 4;
int faultsPerVcpu = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20_000;

using var space = new AddressSpace();

// The guest maps a heap of 256 pages and a read-only table of 16 pages.
Check(space.Mmap(0, 256 * Page, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous, out ulong heap));
Check(space.Mmap(0, 16 * Page, Prot.Read, MapFlags.Private | MapFlags.Anonymous, out ulong table));
Check(space.SetAnonName(heap, 256 * Page, "guest heap"));

// vCPUs fault on the heap and the table while the guest flips a guard page in the heap's middle: each flip splits
// the heap in three and the next merges it back, so faults race with splits and merges.
using var stop = new CancellationTokenSource();
Task guest = Task.Run(() =>
{
    ulong guard = heap + 128 * Page;
    while (!stop.IsCancellationRequested)
    {
        Check(space.Mprotect(guard, Page, Prot.None));
        Check(space.Mprotect(guard, Page, Prot.Read | Prot.Write));
    }
});

var results = new int[VcpuCount, Enum.GetValues<FaultResult>().Length];
Task[] vcpus = Enumerable.Range(0, VcpuCount).Select(vcpu => Task.Run(() =>
{
    var random = new Random(vcpu);
    for (int i = 0; i < faultsPerVcpu; i++)
    {
        bool onTable = random.Next(4) == 0;
        ulong address = onTable ? table + (ulong)random.Next(16) * Page : heap + (ulong)random.Next(256) * Page;
        FaultResult result = space.Fault(address, random.Next(2) == 0 ? FaultAccess.Read : FaultAccess.Write);
        results[vcpu, (int)result]++;
    }
})).ToArray();

Task.WaitAll(vcpus);
stop.Cancel();
guest.Wait();

foreach (FaultResult result in Enum.GetValues<FaultResult>())
{
    int total = Enumerable.Range(0, VcpuCount).Sum(vcpu => results[vcpu, (int)result]);
    Console.WriteLine($"{result,-12} {total,8} faults");
}

Console.WriteLine($"{space.MapCount} VMAs:");
Console.Write(space.FormatMaps());

static void Check(Errno error)
{
    if (error != Errno.None)
    {
        throw new InvalidOperationException($"the guest's system call failed with {error}");
    }
}
