/**
 * A PAM application in Python, run inside the target as `python3 -I -c PAM_DRIVER USER TTY SERVICE...`: it
 * drives the target's own libpam.so.0 through ctypes, the way login(1) and a display manager do, for each
 * service in turn: pam_start, pam_set_item(PAM_TTY), pam_authenticate, pam_acct_mgmt, pam_open_session,
 * pam_close_session, pam_end. The password is read from stdin (one trailing newline dropped), never from argv.
 *
 * Output: one JSON object per line on stdout, written by hand because a minimal Python may lack `json`:
 *   {"kind":"step","service":"login","step":"auth","code":0,"text":"Success"}
 *   {"kind":"message","service":"login","step":"auth","style":4,"text":"..."}
 *   {"kind":"unavailable","what":"ctypes"|"libpam","text":"..."}   (then exit 3: PAM could not be driven)
 * A failing step ends that service's sequence (pam_end still runs); the next service is tried. It answers
 * echo-off prompts with the password and nothing else: an echo-on prompt gets PAM_CONV_ERR, so the proof
 * never types the password where a user name, a token or a new password is expected.
 */
export const PAM_DRIVER = String.raw`
import sys
def q(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == '\\':
            out.append('\\' + ch)
        elif o < 32 or o == 127:
            out.append('\\u%04x' % o)
        else:
            out.append(ch)
    return '"' + ''.join(out) + '"'
def emit(**fields):
    parts = []
    for key, value in fields.items():
        parts.append(q(key) + ':' + (str(value) if isinstance(value, int) else q(str(value))))
    sys.stdout.write('{' + ','.join(parts) + '}\n')
    sys.stdout.flush()
try:
    import ctypes
except Exception as error:
    emit(kind='unavailable', what='ctypes', text=str(error))
    sys.exit(3)
try:
    pam = ctypes.CDLL('libpam.so.0')
    libc = ctypes.CDLL(None)
except Exception as error:
    emit(kind='unavailable', what='libpam', text=str(error))
    sys.exit(3)
user = sys.argv[1].encode()
tty = sys.argv[2].encode()
services = sys.argv[3:]
password = sys.stdin.buffer.read()
if password.endswith(b'\n'):
    password = password[:-1]
PAM_PROMPT_ECHO_OFF = 1
PAM_SUCCESS = 0
PAM_BUF_ERR = 5
PAM_CONV_ERR = 19
PAM_TTY = 3
class Message(ctypes.Structure):
    _fields_ = [('msg_style', ctypes.c_int), ('msg', ctypes.c_char_p)]
class Response(ctypes.Structure):
    _fields_ = [('resp', ctypes.c_void_p), ('resp_retcode', ctypes.c_int)]
CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Message)), ctypes.POINTER(ctypes.POINTER(Response)), ctypes.c_void_p)
class Conv(ctypes.Structure):
    _fields_ = [('conv', CONV), ('appdata_ptr', ctypes.c_void_p)]
libc.calloc.restype = ctypes.c_void_p
libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]
libc.free.argtypes = [ctypes.c_void_p]
pam.pam_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Conv), ctypes.POINTER(ctypes.c_void_p)]
pam.pam_strerror.restype = ctypes.c_char_p
pam.pam_strerror.argtypes = [ctypes.c_void_p, ctypes.c_int]
pam.pam_set_item.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
for name in ('pam_authenticate', 'pam_acct_mgmt', 'pam_open_session', 'pam_close_session'):
    getattr(pam, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
pam.pam_end.argtypes = [ctypes.c_void_p, ctypes.c_int]
current = {'service': '', 'step': ''}
def conversation(count, messages, responses, appdata):
    replies = libc.calloc(count, ctypes.sizeof(Response))
    if not replies:
        return PAM_BUF_ERR
    array = ctypes.cast(replies, ctypes.POINTER(Response))
    status = PAM_SUCCESS
    for index in range(count):
        message = messages[index].contents
        text = (message.msg or b'').decode('utf-8', 'replace')
        emit(kind='message', service=current['service'], step=current['step'], style=message.msg_style, text=text)
        if message.msg_style == PAM_PROMPT_ECHO_OFF:
            array[index].resp = libc.strdup(password)
        elif message.msg_style == 2:
            status = PAM_CONV_ERR
    if status != PAM_SUCCESS:
        for index in range(count):
            if array[index].resp:
                libc.free(array[index].resp)
        libc.free(replies)
        return status
    responses[0] = array
    return PAM_SUCCESS
callback = CONV(conversation)
def strerror(handle, code):
    text = pam.pam_strerror(handle, code)
    return text.decode('utf-8', 'replace') if text else 'PAM error %d' % code
for service in services:
    current['service'] = service
    current['step'] = 'start'
    conv = Conv(callback, None)
    handle = ctypes.c_void_p()
    code = pam.pam_start(service.encode(), user, ctypes.byref(conv), ctypes.byref(handle))
    emit(kind='step', service=service, step='start', code=code, text=strerror(handle, code))
    if code != PAM_SUCCESS:
        continue
    last = pam.pam_set_item(handle, PAM_TTY, ctypes.cast(ctypes.c_char_p(tty), ctypes.c_void_p))
    if last == PAM_SUCCESS:
        for step, call in (('auth', pam.pam_authenticate), ('account', pam.pam_acct_mgmt), ('session', pam.pam_open_session), ('session-close', pam.pam_close_session)):
            current['step'] = step
            last = call(handle, 0)
            emit(kind='step', service=service, step=step, code=last, text=strerror(handle, last))
            if last != PAM_SUCCESS:
                break
    else:
        emit(kind='step', service=service, step='tty', code=last, text=strerror(handle, last))
    pam.pam_end(handle, last)
`;
