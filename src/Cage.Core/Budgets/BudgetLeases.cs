using System.Collections.Concurrent;

namespace CageNet.Budgets;

/// <summary>
/// The open reservations, for the lease timer to find the expired ones. Registering and removing are one
/// compare-and-swap into a slot picked by the reservation's id (ids are sequential, so open reservations spread over
/// the slots); when the slot and the next three are taken, the reservation goes to a dictionary instead.
/// </summary>
internal sealed class BudgetLeases
{
    private const int Probes = 4;
    private const int Overflowed = -1;

    private readonly BudgetReservation?[] _slots = new BudgetReservation?[1024];
    private readonly ConcurrentDictionary<long, BudgetReservation> _overflow = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    public void Add(BudgetReservation reservation)
    {
        Interlocked.Increment(ref _count);
        var mask = _slots.Length - 1;
        for (var i = 0; i < Probes; i++)
        {
            var slot = (int)((reservation.Id + i) & mask);
            if (Volatile.Read(ref _slots[slot]) is not null) continue;
            reservation.Slot = slot; // before it is visible in the slot: a remover reads it from there
            if (Interlocked.CompareExchange(ref _slots[slot], reservation, null) is null) return;
        }

        reservation.Slot = Overflowed;
        _overflow[reservation.Id] = reservation;
    }

    /// <summary>Removes it if registered (completing an expired reservation removes it a second time: a no-op).</summary>
    public void Remove(BudgetReservation reservation)
    {
        var slot = reservation.Slot;
        var removed = slot >= 0
            ? ReferenceEquals(Interlocked.CompareExchange(ref _slots[slot], null, reservation), reservation)
            : slot == Overflowed && _overflow.TryRemove(reservation.Id, out _);
        if (removed)
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>The open reservations now (a snapshot taken slot by slot).</summary>
    public IEnumerable<BudgetReservation> Open()
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            if (Volatile.Read(ref _slots[i]) is { } reservation) yield return reservation;
        }

        foreach (var (_, reservation) in _overflow)
        {
            yield return reservation;
        }
    }
}
