package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// typeChecker checks a decoded TOML document (generic maps and slices)
// against the Config struct before the strict decoder sees it: every
// unknown key, every value of the wrong type and every bad duration is an
// *Error located through ix, and is removed from the document, so that the
// rest decodes and validates and all problems are reported at once (the
// decoder stops at the first).
type typeChecker struct {
	name string
	ix   keyIndex
	errs []error
}

var durationType = reflect.TypeOf(Duration{})

// table checks the keys of m against struct type t. path is the indexed
// key of m ("", "ari", "app[1]").
func (c *typeChecker) table(m map[string]any, t reflect.Type, path string) {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fields[strings.Split(f.Tag.Get("toml"), ",")[0]] = f.Type
	}
	for k, v := range m {
		key := k
		if path != "" {
			key = path + "." + k
		}
		ft, ok := fields[k]
		if !ok {
			c.bad(key, false, "unknown key")
			delete(m, k)
			continue
		}
		if !c.value(v, ft, key) {
			delete(m, k)
		}
	}
}

// value checks v against Go type t; false means v is wrong (and reported).
func (c *typeChecker) value(v any, t reflect.Type, key string) bool {
	switch {
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			c.bad(key, true, "wrong type: got a TOML %s, want a string such as \"2s\"", kindOf(v))
			return false
		}
		var d Duration
		if err := d.UnmarshalText([]byte(s)); err != nil {
			c.bad(key, true, "%v", err)
			return false
		}
		return true
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.bad(key, true, "wrong type: got a TOML %s, want a table", kindOf(v))
			return false
		}
		c.table(m, t, key)
		return true
	case t.Kind() == reflect.Slice:
		elems, ok := v.([]any)
		if !ok {
			if maps, isMaps := v.([]map[string]any); isMaps {
				for i, m := range maps {
					c.table(m, t.Elem(), key+"["+strconv.Itoa(i)+"]")
				}
				return true
			}
			c.bad(key, true, "wrong type: got a TOML %s, want %s", kindOf(v), goTypeName(t))
			return false
		}
		for i, e := range elems {
			ek := key + "[" + strconv.Itoa(i) + "]"
			if t.Elem().Kind() == reflect.Struct {
				m, ok := e.(map[string]any)
				if !ok {
					c.bad(key, true, "wrong type: got a TOML %s in the array, want %s", kindOf(e), goTypeName(t.Elem()))
					return false
				}
				c.table(m, t.Elem(), ek)
				continue
			}
			if !c.scalar(e, t.Elem()) {
				c.bad(key, true, "wrong type: got a TOML %s in the array, want %s", kindOf(e), goTypeName(t.Elem()))
				return false
			}
		}
		return true
	default:
		if !c.scalar(v, t) {
			c.bad(key, true, "wrong type: got a TOML %s, want %s", kindOf(v), goTypeName(t))
			return false
		}
		return true
	}
}

// scalar reports whether v decodes into a field of kind t.
func (c *typeChecker) scalar(v any, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		_, ok := v.(string)
		return ok
	case reflect.Bool:
		_, ok := v.(bool)
		return ok
	case reflect.Int, reflect.Int64:
		_, ok := v.(int64)
		return ok
	}
	return false
}

// bad records a problem at key (indexed); atValue locates it at the value
// rather than the key. Messages name the key without indexes, as the line
// already tells which [[app]] it is.
func (c *typeChecker) bad(key string, atValue bool, format string, args ...any) {
	e := &Error{File: c.name, Key: stripIndexes(key), Msg: fmt.Sprintf(format, args...)}
	for k := key; k != ""; {
		if p, ok := c.ix[k]; ok {
			e.Line, e.Col = p.line, p.col
			if atValue && k == key {
				e.Line, e.Col = p.vline, p.vcol
			}
			break
		}
		i := strings.LastIndexAny(k, ".[")
		if i <= 0 {
			break
		}
		k = k[:i]
	}
	c.errs = append(c.errs, e)
}

// kindOf names the TOML type of a decoded value.
func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	case time.Time:
		return "date-time"
	}
	return "date or time"
}

// goTypeName names a field type the way a TOML user thinks of it.
func goTypeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a string such as \"2s\""
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "an array of tables ([[...]])"
	case t.Kind() == reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(goTypeName(t.Elem()), "an "), "a ") + "s"
	}
	return tomlType(t.Kind().String())
}
