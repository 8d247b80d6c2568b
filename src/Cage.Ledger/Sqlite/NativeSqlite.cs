using System.Runtime.InteropServices;
using SQLitePCL;

namespace CageNet.Ledger;

/// <summary>
/// The writer's hot SQLite calls (bind, step, reset, changes) straight into the <c>e_sqlite3</c> library that
/// SQLitePCLRaw already loaded, through unmanaged function pointers. SQLitePCLRaw's own wrappers take a
/// <c>SafeHandle</c> per call (reference counting on every bind) and go through a provider interface; at 30 binds per
/// call that was about a tenth of the writer's time. The exports are used only once it is proven they belong to the
/// same library instance (SQLite's global allocation counter reads the same through both paths); otherwise, or on a
/// platform where the library cannot be resolved, every call goes through SQLitePCLRaw as before.
/// </summary>
internal static unsafe class NativeSqlite
{
    private static delegate* unmanaged[Cdecl]<IntPtr, int, long, int> BindInt64Ptr;
    private static delegate* unmanaged[Cdecl]<IntPtr, int, double, int> BindDoublePtr;
    private static delegate* unmanaged[Cdecl]<IntPtr, int, int> BindNullPtr;
    private static delegate* unmanaged[Cdecl]<IntPtr, int, byte*, int, IntPtr, int> BindTextPtr;
    private static delegate* unmanaged[Cdecl]<IntPtr, int> StepPtr;
    private static delegate* unmanaged[Cdecl]<IntPtr, int> ResetPtr;
    private static delegate* unmanaged[Cdecl]<IntPtr, int> ChangesPtr;

    // SQLITE_TRANSIENT: SQLite copies the bytes before the bind returns.
    private static readonly IntPtr Transient = new(-1);
    private static readonly byte EmptyText;

    private static readonly Lock Gate = new();
    private static volatile bool _isDirect;

    /// <summary>Whether the calls below go straight to the library (false: through SQLitePCLRaw).</summary>
    public static bool IsDirect => _isDirect;

    /// <summary>
    /// Resolves the direct calls, once a connection is open (so SQLitePCLRaw's provider is set and its SQLite has
    /// allocated). Any failure leaves the SQLitePCLRaw path in place and is tried again at the next open; nothing
    /// here throws.
    /// </summary>
    public static void TryEnable()
    {
        if (_isDirect)
        {
            return;
        }

        lock (Gate)
        {
            if (_isDirect)
            {
                return;
            }

            try
            {
                Resolve();
            }
#pragma warning disable CA1031 // an optimisation: whatever goes wrong, the portable path stays
            catch (Exception)
#pragma warning restore CA1031
            {
                _isDirect = false;
            }
        }
    }

    private static void Resolve()
    {
        {
            if (!NativeLibrary.TryLoad(raw.GetNativeLibraryName(), typeof(raw).Assembly, null, out var library))
            {
                return;
            }

            var memoryUsed = (delegate* unmanaged[Cdecl]<long>)NativeLibrary.GetExport(library, "sqlite3_memory_used");
            if (!SameInstance(memoryUsed))
            {
                return;
            }

            BindInt64Ptr = (delegate* unmanaged[Cdecl]<IntPtr, int, long, int>)NativeLibrary.GetExport(library, "sqlite3_bind_int64");
            BindDoublePtr = (delegate* unmanaged[Cdecl]<IntPtr, int, double, int>)NativeLibrary.GetExport(library, "sqlite3_bind_double");
            BindNullPtr = (delegate* unmanaged[Cdecl]<IntPtr, int, int>)NativeLibrary.GetExport(library, "sqlite3_bind_null");
            BindTextPtr = (delegate* unmanaged[Cdecl]<IntPtr, int, byte*, int, IntPtr, int>)NativeLibrary.GetExport(library, "sqlite3_bind_text");
            StepPtr = (delegate* unmanaged[Cdecl]<IntPtr, int>)NativeLibrary.GetExport(library, "sqlite3_step");
            ResetPtr = (delegate* unmanaged[Cdecl]<IntPtr, int>)NativeLibrary.GetExport(library, "sqlite3_reset");
            ChangesPtr = (delegate* unmanaged[Cdecl]<IntPtr, int>)NativeLibrary.GetExport(library, "sqlite3_changes");
            _isDirect = true;
        }
    }

    public static void BindInt64(sqlite3_stmt statement, int index, long value)
    {
        if (_isDirect)
        {
            BindInt64Ptr(statement.DangerousGetHandle(), index, value);
        }
        else
        {
            raw.sqlite3_bind_int64(statement, index, value);
        }
    }

    public static void BindDouble(sqlite3_stmt statement, int index, double value)
    {
        if (_isDirect)
        {
            BindDoublePtr(statement.DangerousGetHandle(), index, value);
        }
        else
        {
            raw.sqlite3_bind_double(statement, index, value);
        }
    }

    public static void BindNull(sqlite3_stmt statement, int index)
    {
        if (_isDirect)
        {
            BindNullPtr(statement.DangerousGetHandle(), index);
        }
        else
        {
            raw.sqlite3_bind_null(statement, index);
        }
    }

    /// <summary>Binds UTF-8 text (copied by SQLite at once); an empty span binds the empty string, not NULL.</summary>
    public static void BindText(sqlite3_stmt statement, int index, ReadOnlySpan<byte> utf8)
    {
        if (!_isDirect)
        {
            if (utf8.IsEmpty)
            {
                raw.sqlite3_bind_text(statement, index, "");
            }
            else
            {
                raw.sqlite3_bind_text(statement, index, utf8);
            }

            return;
        }

        fixed (byte* text = utf8)
        {
            fixed (byte* empty = &EmptyText)
            {
                BindTextPtr(statement.DangerousGetHandle(), index, utf8.IsEmpty ? empty : text, utf8.Length, Transient);
            }
        }
    }

    public static int Step(sqlite3_stmt statement) => _isDirect ? StepPtr(statement.DangerousGetHandle()) : raw.sqlite3_step(statement);

    public static void Reset(sqlite3_stmt statement)
    {
        if (_isDirect)
        {
            ResetPtr(statement.DangerousGetHandle());
        }
        else
        {
            raw.sqlite3_reset(statement);
        }
    }

    /// <summary>Rows changed by the connection's last statement.</summary>
    public static int Changes(sqlite3 db) => _isDirect ? ChangesPtr(db.DangerousGetHandle()) : raw.sqlite3_changes(db);

    // Two copies of SQLite in one process would each count their own allocations; the one SQLitePCLRaw uses has
    // allocated (it opened connections), so equal, non-zero readings through both paths mean one instance.
    private static bool SameInstance(delegate* unmanaged[Cdecl]<long> memoryUsed)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var viaPcl = raw.sqlite3_memory_used();
            var direct = memoryUsed();
            if (viaPcl > 0 && viaPcl == direct && raw.sqlite3_memory_used() == viaPcl)
            {
                return true;
            }
        }

        return false;
    }
}
